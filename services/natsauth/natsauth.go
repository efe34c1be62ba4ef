// Package natsauth decides who may do what on chatd's NATS server: chatd's
// own connections with full rights, and one account per internal service
// limited to its application (PROTOCOL §4). The rules are pure functions of
// names; the server only loads the list they produce.
package natsauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chatbackend/chat/events"
)

// ChatdUser is the account of chatd's own connections (and chatctl's).
const ChatdUser = "chatd"

// Service is one internal service's account: a name within an application.
type Service struct {
	App  string
	Name string
}

// Validate checks the names can become NATS tokens that no other account
// shares.
func (s Service) Validate() error {
	if !events.ValidID(s.App) {
		return fmt.Errorf("app %q: use 1 to 64 letters, digits, _ or -", s.App)
	}
	if !events.ValidServiceName(s.Name) {
		return fmt.Errorf("service name %q: use 1 to 32 lower-case letters, digits or -, starting with a letter or digit", s.Name)
	}
	return nil
}

// User is the account's NATS user name, also its durable consumer's name:
// svc_{name}_{app}. A name has no "_", so the first "_" after the prefix
// ends it and no two (app, name) pairs share a user; the prefix keeps it
// apart from chatd and chatd's own durables.
func (s Service) User() string { return "svc_" + s.Name + "_" + s.App }

// Durable is the one durable consumer the service may create and read.
func (s Service) Durable() string { return s.User() }

// InboxPrefix is where the service receives replies (nats.CustomInboxPrefix,
// nats --inbox-prefix): its own, so it cannot read anyone else's replies.
func (s Service) InboxPrefix() string { return "_INBOX_" + s.User() }

// Password derives the service's password from chatd's NATS secret. Deriving
// it means the log never holds a usable secret, every chatd computes the same
// one, and asking again gives the same answer.
func (s Service) Password(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("nats-service\x00" + s.App + "\x00" + s.Name))
	return hex.EncodeToString(m.Sum(nil))
}

// Users is the server's user list: chatd with full rights, then every
// service with its own permissions.
func Users(chatdPassword, secret string, services []Service) []*server.User {
	users := make([]*server.User, 0, 1+len(services))
	users = append(users, &server.User{Username: ChatdUser, Password: chatdPassword})
	for _, s := range services {
		users = append(users, &server.User{Username: s.User(), Password: s.Password(secret), Permissions: Permissions(s)})
	}
	return users
}
