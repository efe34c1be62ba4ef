package auth

import (
	"github.com/golang-jwt/jwt/v5"

	"github.com/chatbackend/chat/events"
)

// UnverifiedApp is the application a token names, read without checking
// anything: for a refused token, where to tell its user (a security
// alert), never who may do what. Empty when the token names none validly.
func UnverifiedApp(token string) string {
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil || !events.ValidID(c.App) {
		return ""
	}
	return c.App
}
