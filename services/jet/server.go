// Package jet is the NATS side of every component: the embedded server,
// connections, the streams the product declares, appending events and the
// consumer loops that read them back in order.
package jet

import (
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
	mu   sync.Mutex
	opts *server.Options // as configured; the server adjusts its own copy
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
		Users:      users,
	}
	e := &Embedded{opts: opts.Clone()}
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

// SetUsers replaces the accepted users while the server runs. Connections of
// users that remain are kept.
func (e *Embedded) SetUsers(users []*server.User) error {
	if len(users) == 0 {
		return errors.New("nats server: no users; it would accept anyone")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.opts.Clone()
	o.Users = users
	if err := e.ReloadOptions(o); err != nil {
		return fmt.Errorf("nats server: load users: %w", err)
	}
	e.opts.Users = users
	return nil
}

// HasUser reports whether the server accepts user, once SetUsers returned.
func (e *Embedded) HasUser(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range e.opts.Users {
		if u.Username == name {
			return true
		}
	}
	return false
}
