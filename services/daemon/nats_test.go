package daemon_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
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
	oneConnectionPerLane(t, names)
}

// oneConnectionPerLane checks that names, a server's connections, hold
// chatd's main connection and each of its lanes once.
func oneConnectionPerLane(t *testing.T, names []string) {
	t.Helper()
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

// On an external NATS server the lanes are TCP connections with chatd's
// credentials from its URL, and a message still travels end to end.
func TestChatdOnAnExternalNATSRunsEachFlowOnItsOwnConnection(t *testing.T) {
	const password = "external-secret"
	ns, err := jet.StartEmbedded("127.0.0.1:0", t.TempDir(), natsauth.Users(password, password, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	u, err := url.Parse(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(natsauth.ChatdUser, password)
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.NATSURL = u.String() })

	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	send(alice, conv, "ext-1", "over an external server")
	bob.WaitType("message.new", "over an external server")
	alice.WaitType("moderation.result", `"status":"approved"`)

	cz, err := ns.Connz(&server.ConnzOptions{Username: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, conn := range cz.Conns {
		names = append(names, conn.Name)
		if conn.AuthorizedUser != natsauth.ChatdUser {
			t.Errorf("connection %s is user %q, want %s", conn.Name, conn.AuthorizedUser, natsauth.ChatdUser)
		}
	}
	oneConnectionPerLane(t, names)
}
