package revoked_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/revoked"
	"github.com/chatbackend/chat/services/testkit"
)

func convert(t *testing.T, a *jet.Appender, app, anon string) {
	t.Helper()
	e, err := events.New(events.ConversionID(app, anon), app, time.Now(), events.Actor{ID: "pro", Type: events.ActorUser},
		&events.AnonymousConverted{ConversationID: events.VisitorConversationID(app, anon), AnonymousID: anon, UserID: "client", ConvertedBy: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// Conversions stored before chatd starts are revoked once Load returns (no
// token of theirs is accepted while it starts); later ones as Follow reads
// them, each told to OnRevoke once; nothing else is revoked.
func TestConversionsInTheLogRevokeTheVisitorsTokens(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	a := jet.NewAppender(js)
	convert(t, a, "resalice", "anon-early")
	// Under the conversions' subjects but not a conversion: ignored.
	if _, err := js.Publish(context.Background(), "chat.evt.resalice.conv.x.anonymous.converted", []byte(`{"oops":1}`)); err != nil {
		t.Fatal(err)
	}

	s := revoked.New()
	var mu sync.Mutex
	var told []string
	s.OnRevoke = func(app, user string) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, app+"/"+user)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	next, err := s.Load(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Revoked("resalice", "anon-early") {
		t.Fatal("a conversion stored before Load is not revoked after it")
	}
	if s.Revoked("geosector", "anon-early") || s.Revoked("resalice", "anon-late") || s.Revoked("resalice", "client") {
		t.Fatal("a token revoked that no conversion names")
	}
	done := make(chan error, 1)
	go func() { done <- s.Follow(ctx, js, next) }()
	convert(t, a, "resalice", "anon-late")
	convert(t, a, "resalice", "anon-late") // a repeat (the log's duplicate)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if !s.Wait(wctx, "resalice", "anon-late") {
		t.Fatal("a conversion appended later never revoked its visitor")
	}
	mu.Lock()
	if len(told) != 1 || told[0] != "resalice/anon-late" {
		t.Errorf("OnRevoke told %v, want the later conversion once", told)
	}
	mu.Unlock()
	short, scancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer scancel()
	if s.Wait(short, "resalice", "anon-never") {
		t.Fatal("Wait returned true for a visitor never converted")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Follow returned %v after its context ended", err)
	}
}
