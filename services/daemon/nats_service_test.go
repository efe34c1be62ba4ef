package daemon_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/natsauth"
	"github.com/chatbackend/chat/services/testkit"
)

// serviceConn is an internal service's connection, with the errors the
// server sent it.
type serviceConn struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu   sync.Mutex
	errs []string
}

func (s *serviceConn) refused(what string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		if strings.Contains(e, what) {
			return true
		}
	}
	return false
}

// createService records the account as chatctl service does and connects
// with it once chatd has loaded it.
func createService(t *testing.T, c *daemontest.Chat, svc natsauth.Service) *serviceConn {
	t.Helper()
	s := &serviceConn{}
	var err error
	s.nc, err = nats.Connect(c.ServiceAccount(svc), nats.CustomInboxPrefix(svc.InboxPrefix()), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.mu.Lock()
			s.errs = append(s.errs, err.Error())
			s.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nc.Close)
	if s.js, err = jetstream.New(s.nc); err != nil {
		t.Fatal(err)
	}
	return s
}

func forged(t *testing.T, app string, p events.Payload) *nats.Msg {
	t.Helper()
	e, err := events.New(events.NewEventID(), app, time.Now(), events.Actor{ID: "bob", Type: events.ActorUser}, p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := jet.Msg(e)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestServiceAccountCannotAppendEvents(t *testing.T) {
	c := daemontest.Chatd(t)
	conv := group(t, c, "alice", "bob")
	bot := createService(t, c, natsauth.Service{App: "geosector", Name: "bot"})
	before := c.LastSeq()

	for _, p := range []events.Payload{
		&events.MessagePosted{MessageID: events.MessageID("geosector", "bob", "k1"), ClientMsgID: "k1", ConversationID: conv,
			SenderID: "bob", SenderType: events.ActorUser, Content: "forged", ContentType: events.ContentText},
		&events.MemberJoined{ConversationID: conv, UserID: "mallory", Role: events.RoleAdmin, AddedBy: "alice"},
	} {
		if err := bot.nc.PublishMsg(forged(t, "geosector", p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bot.nc.Flush(); err != nil { // the server has read both publishes
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the publish refused", func() bool {
		return bot.refused(`Permissions Violation for Publish to "chat.evt.geosector.conv.` + conv)
	})
	if after := c.LastSeq(); after != before {
		t.Fatalf("the log moved from %d to %d after a service's forged events", before, after)
	}
}

func TestServiceAccountReadsOnlyItsOwnApplication(t *testing.T) {
	c := daemontest.Chatd(t)
	svc := natsauth.Service{App: "geosector", Name: "bot"}
	bot := createService(t, c, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Live events of its application arrive; another application's are refused.
	live, err := bot.nc.SubscribeSync("chat.evt.geosector.>")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bot.nc.SubscribeSync("chat.evt.resalice.>"); err != nil {
		t.Fatal(err)
	}
	if err := bot.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	conv := group(t, c, "alice", "bob")
	m, err := live.NextMsg(10 * time.Second)
	if err != nil || !strings.HasPrefix(m.Subject, "chat.evt.geosector.conv."+conv+".") {
		t.Fatalf("live event: %v %v", m, err)
	}
	testkit.Eventually(t, 5*time.Second, "the subscription to resalice refused", func() bool {
		return bot.refused(`Permissions Violation for Subscription to "chat.evt.resalice.>"`)
	})

	// Its own durable, filtered on its application, is created and read.
	cons, err := bot.js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable: svc.Durable(), FilterSubject: "chat.evt.geosector.>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("create own durable: %v", err)
	}
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if !strings.HasPrefix(m.Subject(), "chat.evt.geosector.") {
			t.Errorf("read %s", m.Subject())
		}
		if err := m.Ack(); err != nil {
			t.Errorf("ack: %v", err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("the service's durable read nothing: %v", batch.Error())
	}

	// Everything else is refused, and leaves nothing behind.
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: allowed", what)
		}
	}
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	cctx, ccancel := short()
	_, err = bot.js.CreateOrUpdateConsumer(cctx, events.Stream, jetstream.ConsumerConfig{
		Durable: svc.Durable(), FilterSubject: "chat.evt.resalice.>"})
	ccancel()
	refused("its durable filtered on another application", err)
	cctx, ccancel = short()
	_, err = bot.js.CreateOrUpdateConsumer(cctx, events.Stream, jetstream.ConsumerConfig{
		Durable: svc.Durable(), FilterSubjects: []string{"chat.evt.geosector.>", "chat.evt.resalice.>"}})
	ccancel()
	refused("its durable with several filters", err)
	cctx, ccancel = short()
	_, err = bot.js.CreateOrUpdateConsumer(cctx, events.Stream, jetstream.ConsumerConfig{
		Durable: "other", FilterSubject: "chat.evt.geosector.>"})
	ccancel()
	refused("a durable under another name", err)
	cctx, ccancel = short()
	_, err = bot.js.Consumer(cctx, events.Stream, jet.ConsumerFanout)
	ccancel()
	refused("fanout's info", err)
	cctx, ccancel = short()
	_, err = bot.js.Stream(cctx, events.Stream)
	ccancel()
	refused("stream info", err)
	_, err = bot.nc.Request("$JS.API.CONSUMER.MSG.NEXT."+events.Stream+"."+jet.ConsumerFanout, []byte(`{"batch":1}`), 2*time.Second)
	refused("reading fanout", err)
	testkit.Eventually(t, 5*time.Second, "reading fanout refused", func() bool {
		return bot.refused(`Permissions Violation for Publish to "$JS.API.CONSUMER.MSG.NEXT.CHAT_EVENTS.fanout"`)
	})

	info, err := c.JetStream().Consumer(ctx, events.Stream, svc.Durable())
	if err != nil {
		t.Fatal(err)
	}
	if f := info.CachedInfo().Config.FilterSubject; f != "chat.evt.geosector.>" {
		t.Fatalf("the service's durable now filters %q", f)
	}
	if _, err := c.JetStream().Consumer(ctx, events.Stream, "other"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer under another name: %v", err)
	}
}
