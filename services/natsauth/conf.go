package natsauth

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// ConfigEntry is the service's user in nats-server configuration syntax, for
// the authorization block of an external server chatd cannot configure. The
// server gets a bcrypt hash of the password, never the password.
func ConfigEntry(s Service, password string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), 11)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	p := Permissions(s)
	list := func(subjects []string) string { return `["` + strings.Join(subjects, `", "`) + `"]` }
	return fmt.Sprintf("  { user: %q, password: %q,\n    permissions: {\n      publish: { allow: %s }\n      subscribe: { allow: %s }\n    } }\n",
		s.User(), hash, list(p.Publish.Allow), list(p.Subscribe.Allow)), nil
}
