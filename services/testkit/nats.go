package testkit

import (
	"context"
	"crypto/rand"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/natsauth"
)

// NATSServer is an embedded NATS server for one test, with the product's
// streams and a connection as chatd.
type NATSServer struct {
	*jet.Embedded
	// Secret is chatd's password, and the key of service passwords.
	Secret string
	// JS is a JetStream context on a connection as chatd (full rights).
	JS jetstream.JetStream
}

// NATS starts an embedded NATS server with the product's streams on a random
// port and temporary storage, for the length of the test, and connects as
// chatd. js.Conn().ConnectedUrl() carries the credentials.
func NATS(t testing.TB, o jet.StreamOptions) jetstream.JetStream {
	t.Helper()
	return StartNATS(t, o).JS
}

// StartNATS is NATS with access to the server, for tests of its accounts.
func StartNATS(t testing.TB, o jet.StreamOptions) *NATSServer {
	t.Helper()
	secret := rand.Text()
	ns, err := jet.StartEmbedded("127.0.0.1:0", t.TempDir(), natsauth.Users(secret, secret, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	s := &NATSServer{Embedded: ns, Secret: secret}
	nc, err := nats.Connect(s.URL(natsauth.ChatdUser, secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if s.JS, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := jet.EnsureStreams(ctx, s.JS, o); err != nil {
		t.Fatal(err)
	}
	return s
}

// URL is the server's client URL with user and password in it.
func (s *NATSServer) URL(user, password string) string {
	u, _ := url.Parse(s.ClientURL())
	u.User = url.UserPassword(user, password)
	return u.String()
}
