// Package auth mints and verifies the JWTs that clients present to the broker
// (as the MQTT password) and to the REST API (as a Bearer token).
package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatbackend/chat/events"
)

// RoleService marks internal services and the bridge (PROTOCOL §1).
const RoleService = "service"

// Claims are the identity a token carries.
type Claims struct {
	App    string `json:"app"`
	Role   string `json:"role"`
	Entity string `json:"entity,omitempty"`
	Name   string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// numericTimes refuses time claims that are not JSON numbers, as RFC 7519
// requires: the jwt library reads "exp":"9999999999" as a time, which no
// issuer of ours writes.
func numericTimes(token string) error {
	_, payload, _ := strings.Cut(token, ".")
	payload, _, _ = strings.Cut(payload, ".")
	raw, err := jwt.NewParser().DecodeSegment(payload)
	if err != nil {
		return fmt.Errorf("claims: %v", err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		return fmt.Errorf("claims: %v", err)
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if ok && (len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return fmt.Errorf("%s is not a number", name)
		}
	}
	return nil
}

// User is the subject of the token: the user id.
func (c *Claims) User() string { return c.Subject }

// IsService reports whether the token belongs to an internal service.
func (c *Claims) IsService() bool { return c.Role == RoleService }

// ErrInvalidToken is returned for every token that must be refused; the
// wrapped detail is for logs, not for clients.
var ErrInvalidToken = errors.New("invalid token")

// Mint signs a token for user in app with the given role, valid for ttl.
func Mint(secret []byte, app, user, role, entity, name string, ttl time.Duration, now time.Time) (string, error) {
	if !events.ValidID(app) || !events.ValidID(user) {
		return "", fmt.Errorf("mint token: app %q and user %q must match %s", app, user, "^[A-Za-z0-9_-]{1,64}$")
	}
	c := Claims{App: app, Role: role, Entity: entity, Name: name, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// Leeway is the clock difference tolerated between the host application
// that mints tokens and chatd, on exp, nbf and iat alike.
const Leeway = 30 * time.Second

// Verify checks signature, algorithm, expiry (required), issue and
// not-before times, and the identity claims.
func Verify(secret []byte, token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // a token issued in the future was minted by a clock we should not trust
		jwt.WithLeeway(Leeway))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := numericTimes(token); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !events.ValidID(c.Subject) {
		return nil, fmt.Errorf("%w: sub %q is not a valid user id", ErrInvalidToken, c.Subject)
	}
	if !events.ValidID(c.App) {
		return nil, fmt.Errorf("%w: app %q is not a valid application id", ErrInvalidToken, c.App)
	}
	return &c, nil
}
