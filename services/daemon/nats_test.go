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

// chatd's busy flows (the command side's appends, the Decider's reads, and
// each consumer) have NATS connections of their own, so that no append's
// acknowledgement or consumer's event waits behind another flow's traffic.
func TestChatdsBusyFlowsHaveNATSConnectionsOfTheirOwn(t *testing.T) {
	c := daemontest.Chatd(t)
	names, err := c.Daemon.NATSClients()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	for _, want := range []string{"chatd", "chatd-commands", "chatd-decide", "chatd-moderation", "chatd-projector", "chatd-fanout", "chatd-webhooks"} {
		if count[want] != 1 {
			t.Errorf("%d connections named %s, want 1 (all: %v)", count[want], want, names)
		}
	}
}
