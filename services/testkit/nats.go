package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/services/jet"
)

// NATS starts an embedded NATS server with the product's streams on a random
// port and temporary storage, for the length of the test.
func NATS(t testing.TB, o jet.StreamOptions) jetstream.JetStream {
	t.Helper()
	ns, err := jet.StartEmbedded("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := jet.EnsureStreams(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	return js
}
