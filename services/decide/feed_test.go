package decide_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// follow runs d's feed until the test ends and waits for its consumer.
func follow(t *testing.T, d *decide.Decider) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Follow(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { cancel(); <-done })
	testkit.Eventually(t, 10*time.Second, "the feed to start", func() bool { return decide.FeedRunning(d) })
}

// adds decides actor adding user as a member of c1, returning where the
// event landed.
func adds(ctx context.Context, d *decide.Decider, actor, user string) (uint64, error) {
	out, err := d.Decide(ctx, app, "c1", func(s *decide.State) ([]*events.Envelope, error) {
		users, err := decide.AddMembers(s, actor, []string{user}, events.RoleMember, 100)
		if err != nil || len(users) == 0 {
			return nil, err
		}
		e, err := events.New(events.NewEventID(), app, at, events.Actor{ID: actor, Type: events.ActorUser},
			&events.MemberJoined{ConversationID: "c1", UserID: user, Role: events.RoleMember, AddedBy: actor})
		return []*events.Envelope{e}, err
	})
	if err != nil || len(out.Appended) == 0 {
		return 0, err
	}
	return out.Appended[0].Seq, nil
}

func createC1(t *testing.T, js jetstream.JetStream, admins ...string) uint64 {
	t.Helper()
	var members []events.Member
	for _, a := range admins {
		members = append(members, events.Member{UserID: a, Role: events.RoleAdmin})
	}
	return appendEvent(t, js, admins[0], &events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: admins[0], Members: members})
}

// Once folded from the log, a state is kept current by the feed: a change
// appended elsewhere reaches it, and the next command is decided on it
// without reading the log, and without a conflict.
func TestFedStateDecidesWithoutReadingTheLog(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createC1(t, js, "alice")
	d := decide.New(js, jet.NewAppender(js), 0)
	follow(t, d)
	if _, err := adds(ctx, d, "alice", "carol"); err != nil {
		t.Fatal(err)
	}
	if n := decide.LogFolds(d); n != 1 {
		t.Fatalf("%d log folds for the first command, want 1", n)
	}
	// Elsewhere, dave joins as an admin; the feed brings it.
	p := appendEvent(t, js, "alice", &events.MemberJoined{ConversationID: "c1", UserID: "dave", Role: events.RoleAdmin, AddedBy: "alice"})
	testkit.Eventually(t, 10*time.Second, "the feed to fold dave's joining", func() bool {
		pos, fed, _ := decide.Cached(d, app, "c1")
		return fed && pos == p
	})
	if _, err := adds(ctx, d, "dave", "erin"); err != nil {
		t.Fatalf("dave adds erin: %v", err)
	}
	if _, err := adds(ctx, d, "dave", "frank"); err != nil {
		t.Fatalf("dave adds frank: %v", err)
	}
	if n, c := decide.LogFolds(d), decide.Conflicts(d); n != 1 || c != 0 {
		t.Fatalf("%d log folds and %d conflicts after commands on a fed state, want 1 and 0", n, c)
	}
}

// A state the feed has not brought up to date decides at a position the
// log has moved past: the append conflicts, the state is folded from the
// log and the command decided again, correctly. A refusal decided on such a
// state is checked on the log before it is answered. The command's own
// events are folded at once, so the next command does not conflict on them.
func TestDecisionOnALaggingStateIsDecidedAgainFromTheLog(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createC1(t, js, "alice", "bob")
	d := decide.New(js, jet.NewAppender(js), 0)
	// The feed stops before the event at pauseFrom until released.
	var pauseFrom atomic.Uint64
	pauseFrom.Store(math.MaxUint64)
	release := make(chan struct{})
	decide.BeforeFeed(d, func(seq uint64) {
		if seq >= pauseFrom.Load() {
			<-release
		}
	})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	follow(t, d)
	s1, err := adds(ctx, d, "alice", "carol")
	if err != nil {
		t.Fatal(err)
	}
	if pos, fed, _ := decide.Cached(d, app, "c1"); !fed || pos != s1 {
		t.Fatalf("state at %d (fed %v) after its own command, want %d, fed", pos, fed, s1)
	}

	pauseFrom.Store(s1 + 1)
	// Elsewhere, alice leaves: her add is refused, after a conflict.
	appendEvent(t, js, "alice", &events.MemberLeft{ConversationID: "c1", UserID: "alice", RemovedBy: "alice"})
	if _, err := adds(ctx, d, "alice", "dave"); code(err) != decide.CodeNotMember {
		t.Fatalf("alice adds dave after leaving: %v, want not_member", err)
	}
	if n, c := decide.LogFolds(d), decide.Conflicts(d); n != 2 || c != 1 {
		t.Fatalf("%d log folds and %d conflicts, want 2 and 1", n, c)
	}

	// Elsewhere, bob adds gina as an admin: her add is refused on the
	// lagging state, then allowed on the log.
	appendEvent(t, js, "bob", &events.MemberJoined{ConversationID: "c1", UserID: "gina", Role: events.RoleAdmin, AddedBy: "bob"})
	if _, err := adds(ctx, d, "gina", "hugo"); err != nil {
		t.Fatalf("gina adds hugo: %v", err)
	}
	if n := decide.LogFolds(d); n != 3 {
		t.Fatalf("%d log folds, want 3: the refusal checked on the log", n)
	}

	// Bob's commands, one after the other, the feed still paused: each
	// sees the one before.
	if _, err := adds(ctx, d, "bob", "dave"); err != nil {
		t.Fatal(err)
	}
	last, err := adds(ctx, d, "bob", "erin")
	if err != nil {
		t.Fatal(err)
	}
	if n, c := decide.LogFolds(d), decide.Conflicts(d); n != 3 || c != 1 {
		t.Fatalf("%d log folds and %d conflicts after consecutive commands, want 3 and 1", n, c)
	}

	// The feed catches up, skipping what the state holds.
	close(release)
	released = true
	if last, err = adds(ctx, d, "bob", "ivan"); err != nil {
		t.Fatal(err)
	}
	if n, c := decide.LogFolds(d), decide.Conflicts(d); n != 3 || c != 1 {
		t.Fatalf("%d log folds and %d conflicts after the feed resumed, want 3 and 1", n, c)
	}
	err = d.State(ctx, app, "c1", func(s *decide.State) error {
		c := s.Conversation()
		for _, u := range []string{"bob", "carol", "dave", "erin", "gina", "hugo", "ivan"} {
			if !c.IsMember(u) {
				t.Errorf("%s is not a member", u)
			}
		}
		if c.IsMember("alice") || s.Pos != last {
			t.Errorf("alice a member: %v, state at %d; want gone, at %d", c.IsMember("alice"), s.Pos, last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A conversation created while the feed runs is born cached and fed: its
// first command reads nothing from the log. What was stored under its
// subjects before its creation (a send to an id not created yet) is no part
// of its state, folded from the log or born alike.
func TestConversationCreatedUnderTheFeedIsDecidedWithoutReadingTheLog(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	early := &events.MessagePosted{MessageID: "m0", ClientMsgID: "k0", ConversationID: "c1", SenderID: "alice",
		SenderType: events.ActorUser, Content: "before", ContentType: events.ContentText}
	appendEvent(t, js, "alice", early)

	d := decide.New(js, jet.NewAppender(js), 0)
	follow(t, d)
	created := createC1(t, js, "alice")
	testkit.Eventually(t, 10*time.Second, "the feed to cache c1", func() bool {
		pos, fed, ok := decide.Cached(d, app, "c1")
		return ok && fed && pos == created
	})
	if _, err := adds(ctx, d, "alice", "carol"); err != nil {
		t.Fatal(err)
	}
	if n, c := decide.LogFolds(d), decide.Conflicts(d); n != 0 || c != 0 {
		t.Fatalf("%d log folds and %d conflicts for a conversation born under the feed, want 0 and 0", n, c)
	}

	// A Decider without the feed folds the same conversation from the log.
	cold := decide.New(js, jet.NewAppender(js), 0)
	for _, dd := range []*decide.Decider{d, cold} {
		if err := dd.State(ctx, app, "c1", func(s *decide.State) error {
			if _, ok := s.Message("m0"); ok {
				t.Error("a message stored before the conversation's creation is part of its state")
			}
			if c := s.Conversation(); c == nil || !c.IsMember("carol") {
				t.Error("carol's joining is missing from the state")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
