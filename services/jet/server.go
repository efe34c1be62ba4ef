// Package jet is the NATS side of every component: the embedded server,
// connections, the streams the product declares, appending events and the
// consumer loops that read them back in order.
package jet

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is a NATS server running inside this process. It never runs
// without users: every connection authenticates (DESIGN: NATS is never open).
type Embedded struct {
	*server.Server
	users *userTable
}

// userTable authenticates each connection against users that can change
// while the server runs. The server asks it at every CONNECT, so adding a
// user needs no reload of the server's options (nats-server reauthorises
// every connection during a reload, and a client connecting meanwhile
// races with it).
type userTable struct {
	mu     sync.RWMutex
	byName map[string]*server.User
}

func newUserTable(users []*server.User) *userTable {
	t := &userTable{}
	t.set(users)
	return t
}

func (t *userTable) set(users []*server.User) {
	byName := make(map[string]*server.User, len(users))
	for _, u := range users {
		byName[u.Username] = u
	}
	t.mu.Lock()
	t.byName = byName
	t.mu.Unlock()
}

func (t *userTable) get(name string) *server.User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byName[name]
}

// Check accepts a client whose user and password match a user's, giving
// the connection that user's permissions.
func (t *userTable) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	u := t.get(o.Username)
	if u == nil || o.Username == "" || subtle.ConstantTimeCompare([]byte(o.Password), []byte(u.Password)) != 1 {
		return false
	}
	c.RegisterUser(u)
	return true
}

// StartEmbedded runs a NATS server with JetStream on addr ("host:port"), storing
// under dataDir/jetstream, accepting only users. The caller owns it: Shutdown
// then WaitForShutdown.
func StartEmbedded(addr, dataDir string, users []*server.User) (*Embedded, error) {
	if len(users) == 0 {
		return nil, errors.New("nats server: no users; it would accept anyone")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("nats addr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats addr %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "chatd",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "jetstream"),
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	e := &Embedded{users: newUserTable(users)}
	opts.CustomClientAuthentication = e.users
	if e.Server, err = server.NewServer(opts); err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go e.Start()
	if !e.ReadyForConnections(30 * time.Second) {
		e.Shutdown()
		return nil, errors.New("nats server: not ready after 30s")
	}
	return e, nil
}

// SetUsers replaces the accepted users while the server runs. Connections
// already made are kept; the next CONNECT of each user meets the new list.
func (e *Embedded) SetUsers(users []*server.User) error {
	if len(users) == 0 {
		return errors.New("nats server: no users; it would accept anyone")
	}
	e.users.set(users)
	return nil
}

// HasUser reports whether the server accepts user.
func (e *Embedded) HasUser(name string) bool { return e.users.get(name) != nil }
