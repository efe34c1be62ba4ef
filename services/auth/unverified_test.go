package auth

import (
	"testing"
	"time"
)

func TestUnverifiedAppReadsTheApplicationOfAnyToken(t *testing.T) {
	expired, _ := Mint([]byte("secret-secret-secret-secret-0123"), "geosector", "bob", "member", "", "", time.Minute, time.Now().Add(-time.Hour))
	forged, _ := Mint([]byte("another-secret-another-secret-99"), "resalice", "bob", "member", "", "", time.Hour, time.Now())
	for token, want := range map[string]string{expired: "geosector", forged: "resalice", "not-a-jwt": "", "": ""} {
		if got := UnverifiedApp(token); got != want {
			t.Errorf("UnverifiedApp(%.20q) = %q, want %q", token, got, want)
		}
	}
}
