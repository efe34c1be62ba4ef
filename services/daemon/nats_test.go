package daemon_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/natsauth"
)

func TestNATSRefusesConnectionsWithoutTheRightCredentials(t *testing.T) {
	c := daemontest.Chatd(t)
	for name, url := range map[string]string{
		"no credentials":        c.Daemon.NATSURL(),
		"wrong password":        c.NATSURL(natsauth.ChatdUser, c.NATSSecret()+"x"),
		"unknown user":          c.NATSURL("admin", c.NATSSecret()),
		"service never created": c.NATSURL(natsauth.Service{App: "geosector", Name: "bot"}.User(), "guess"),
	} {
		nc, err := nats.Connect(url, nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization error", name, err)
		}
	}
	nc, err := nats.Connect(c.NATSURL(natsauth.ChatdUser, c.NATSSecret()))
	if err != nil {
		t.Fatalf("chatd's own credentials are refused: %v", err)
	}
	nc.Close()
}
