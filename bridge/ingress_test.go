package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// runIngress connects an ingress to the broker at url as chat-bridge (a
// persistent session, manual acknowledgement, as chatd does) and runs it
// until stop is called, which cancels it and drops the connection.
func runIngress(t *testing.T, url string, js jetstream.JetStream, log *slog.Logger) (stop func()) {
	t.Helper()
	in := bridge.NewIngress(config.Defaults(), jet.NewAppender(js), log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := bridge.Dial(ctx, bridge.ClientOptions{URL: url, ClientID: "chat-bridge", Username: "chat-bridge",
		Password: func() string { return "bridge-pw" }, OnConnect: in.Subscribe, OnMessage: in.Handle, ManualAck: true})
	if err != nil {
		t.Fatal(err)
	}
	in.Reply = &bridge.ClientDeliverer{C: c}
	testkit.Eventually(t, 15*time.Second, "the bridge to subscribe", in.Connected)
	runCtx, end := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		end()
		if err := <-done; err != nil {
			t.Errorf("ingress: %v", err)
		}
		c.Disconnect(0)
	}
	t.Cleanup(stop)
	return stop
}

// posted reads the log and returns the client message ids of its
// MessagePosted events, in log order.
func posted(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last, err := jet.LastSeq(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	if last == 0 {
		return ids
	}
	err = jet.Read(ctx, js, jet.ReadOptions{Until: last, Park: jet.NewParker(js, "test", testkit.Logger(t))},
		func(_ context.Context, b jet.Batch) error {
			for _, e := range b.Events {
				if e.Type != events.TypeMessagePosted {
					continue
				}
				var p events.MessagePosted
				if err := json.Unmarshal(e.Data, &p); err != nil {
					return err
				}
				ids = append(ids, p.ClientMsgID)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func sendCommand(id string) string {
	return fmt.Sprintf(`{"clientMsgId":%q,"conversationId":"c1","content":"hello %s"}`, id, id)
}

// The bridge sends the next commands to the log while earlier ones wait for
// its acknowledgement; a sender's commands are still stored in the order
// the broker delivered them.
func TestIngressStoresASendersCommandsInOrderThroughMosquitto(t *testing.T) {
	users := map[string]string{"chat-bridge": "bridge-pw", "alice": "alice-pw"}
	url := testkit.Mosquitto(t, users)
	js := testkit.NATS(t, jet.StreamOptions{})
	runIngress(t, url, js, testkit.Logger(t))
	alice := testkit.Connect(t, url, "chat", "alice", users["alice"])

	const n = 1500
	toks := make([]paho.Token, n)
	for i := range n {
		toks[i] = alice.Paho().Publish("chat/cmd/alice/send", 1, false, sendCommand(fmt.Sprintf("m%04d", i)))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	var ids []string
	testkit.Eventually(t, 30*time.Second, fmt.Sprintf("%d sends in the log", n), func() bool {
		ids = posted(t, js)
		return len(ids) >= n
	})
	if len(ids) != n {
		t.Fatalf("%d MessagePosted in the log for %d sends", len(ids), n)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("m%04d", i); id != want {
			t.Fatalf("position %d of alice's sends holds %s, want %s", i, id, want)
		}
	}
}

// retrySignal is a log handler that counts the ingress's append retries.
type retrySignal struct {
	slog.Handler
	retries *atomic.Int32
}

func (h retrySignal) Enabled(context.Context, slog.Level) bool { return true }

func (h retrySignal) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "append failed") {
		h.retries.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h retrySignal) WithAttrs(as []slog.Attr) slog.Handler {
	return retrySignal{h.Handler.WithAttrs(as), h.retries}
}

func (h retrySignal) WithGroup(name string) slog.Handler {
	return retrySignal{h.Handler.WithGroup(name), h.retries}
}

// A command the log has not acknowledged is not acknowledged to Mosquitto:
// when the bridge stops then, Mosquitto delivers it again to the bridge's
// persistent session, and it is stored once.
func TestIngressCommandNotYetInTheLogIsRedeliveredAfterACrash(t *testing.T) {
	users := map[string]string{"chat-bridge": "bridge-pw", "alice": "alice-pw"}
	url := testkit.Mosquitto(t, users)
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Without the event stream every append fails, as when JetStream is down.
	if err := js.DeleteStream(ctx, events.Stream); err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int32
	log := slog.New(retrySignal{testkit.Logger(t).Handler(), &retries})
	stop := runIngress(t, url, js, log)
	alice := testkit.Connect(t, url, "chat", "alice", users["alice"])
	alice.Publish("chat/cmd/alice/send", sendCommand("kept"))
	// Several retries: an acknowledgement sent too early would long be on
	// its way to Mosquitto by then.
	testkit.Eventually(t, 15*time.Second, "the bridge to fail appending the command", func() bool {
		return retries.Load() >= 3
	})
	stop() // the bridge goes away holding the command unacknowledged

	if err := jet.EnsureStreams(ctx, js, jet.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	runIngress(t, url, js, testkit.Logger(t))
	var ids []string
	testkit.Eventually(t, 30*time.Second, "the redelivered command in the log", func() bool {
		ids = posted(t, js)
		return len(ids) > 0
	})
	// A second send after the redelivered one is stored after it, once.
	alice.Publish("chat/cmd/alice/send", sendCommand("after"))
	testkit.Eventually(t, 30*time.Second, "the next command in the log", func() bool {
		ids = posted(t, js)
		return len(ids) >= 2
	})
	if strings.Join(ids, ",") != "kept,after" {
		t.Fatalf("log holds sends %v, want [kept after]", ids)
	}
}
