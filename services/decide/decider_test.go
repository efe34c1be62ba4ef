package decide_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

func appendEvent(t *testing.T, js jetstream.JetStream, actor string, p events.Payload) uint64 {
	t.Helper()
	e, err := events.New(events.NewEventID(), app, at, events.Actor{ID: actor, Type: events.ActorUser}, p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := jet.NewAppender(js).Append(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return r.Seq
}

// removal decides actor removing target, after calling hold with the
// position it decided at (the first time only).
func removal(t *testing.T, actor, target string, hold func(pos uint64)) decide.Decision {
	var once sync.Once
	return func(s *decide.State) ([]*events.Envelope, error) {
		once.Do(func() { hold(s.Pos) })
		if err := decide.RemoveMember(s, actor, target); err != nil {
			return nil, err
		}
		e, err := events.New(events.NewEventID(), app, at, events.Actor{ID: actor, Type: events.ActorUser},
			&events.MemberLeft{ConversationID: "c1", UserID: target, RemovedBy: actor})
		return []*events.Envelope{e}, err
	}
}

// Two admins remove each other at the same moment, each through its own
// chatd (its own Decider): both decide at the same position, where each is
// an admin and the other a member. Only one removal may take effect; the
// other is decided again after it and refused, as its author is gone.
func TestConflictingCommandsDecidedAtOnePositionCannotBothTakeEffect(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appendEvent(t, js, "alice", &events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{
			{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleAdmin}, {UserID: "carol", Role: events.RoleMember}}})
	// An event of another conversation after it: positions are the
	// conversation's own, not the stream's.
	appendEvent(t, js, "zoe", &events.ConversationCreated{ConversationID: "c2", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: "zoe", Members: []events.Member{{UserID: "zoe", Role: events.RoleAdmin}}})
	p := appendEvent(t, js, "alice", &events.MemberJoined{ConversationID: "c1", UserID: "dave", Role: events.RoleMember, AddedBy: "alice"})

	// Each decision waits until both are decided before appending.
	var decided sync.WaitGroup
	decided.Add(2)
	positions := make(chan uint64, 2)
	hold := func(pos uint64) {
		positions <- pos
		decided.Done()
		decided.Wait()
	}
	one := decide.New(js, jet.NewAppender(js), 0)
	two := decide.New(js, jet.NewAppender(js), 0)
	errs := make(chan error, 2)
	go func() {
		_, err := one.Decide(ctx, app, "c1", removal(t, "alice", "bob", hold))
		errs <- err
	}()
	go func() {
		_, err := two.Decide(ctx, app, "c1", removal(t, "bob", "alice", hold))
		errs <- err
	}()
	e1, e2 := <-errs, <-errs
	if p1, p2 := <-positions, <-positions; p1 != p || p2 != p {
		t.Fatalf("decided at %d and %d, want both at %d", p1, p2, p)
	}
	ok, refused := 0, 0
	for _, err := range []error{e1, e2} {
		var r *decide.Refusal
		switch {
		case err == nil:
			ok++
		case errors.As(err, &r) && r.Code == decide.CodeNotMember:
			refused++
		default:
			t.Fatalf("unexpected outcome %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("%d removals took effect and %d were refused; want exactly one of each", ok, refused)
	}

	// The log agrees: one MemberLeft, and exactly one admin left.
	fresh := decide.New(js, jet.NewAppender(js), 0)
	err := fresh.State(ctx, app, "c1", func(s *decide.State) error {
		c := s.Conversation()
		if c.IsMember("alice") == c.IsMember("bob") {
			t.Errorf("members after both removals: %v; want exactly one of alice and bob", c.Members)
		}
		if s.Pos != p+1 {
			t.Errorf("conversation at %d, want %d: one event after the decision", s.Pos, p+1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A cached state is caught up before deciding: a change appended by someone
// else since the last decision counts.
func TestDecisionSeesChangesMadeElsewhere(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appendEvent(t, js, "alice", &events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{
			{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}}})
	d := decide.New(js, jet.NewAppender(js), 1)
	add := func(actor, user string) error {
		_, err := d.Decide(ctx, app, "c1", func(s *decide.State) ([]*events.Envelope, error) {
			users, err := decide.AddMembers(s, actor, []string{user}, events.RoleMember, 100)
			if err != nil || len(users) == 0 {
				return nil, err
			}
			e, err := events.New(events.NewEventID(), app, at, events.Actor{ID: actor, Type: events.ActorUser},
				&events.MemberJoined{ConversationID: "c1", UserID: user, Role: events.RoleMember, AddedBy: actor})
			return []*events.Envelope{e}, err
		})
		return err
	}
	if err := add("alice", "carol"); err != nil {
		t.Fatal(err)
	}
	// Elsewhere, alice leaves; then her next add is refused.
	appendEvent(t, js, "alice", &events.MemberLeft{ConversationID: "c1", UserID: "alice", RemovedBy: "alice"})
	if err := add("alice", "dave"); code(err) != decide.CodeNotMember {
		t.Fatalf("add after leaving: %v, want not_member", err)
	}
	// Evicted from a cache of one, the state is folded again from the log.
	if _, err := d.Decide(ctx, app, "other", func(*decide.State) ([]*events.Envelope, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := add("alice", "dave"); code(err) != decide.CodeNotMember {
		t.Fatalf("add after eviction: %v, want not_member", err)
	}
}

// A long history is folded whole, single gets first and a consumer for the
// rest, skipping the other conversations' events in between.
func TestLongConversationIsFoldedWhole(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appendEvent(t, js, "alice", &events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}}})
	var last uint64
	for i := range 60 {
		last = appendEvent(t, js, "alice", &events.MemberJoined{ConversationID: "c1", UserID: "u" + itoa(i), Role: events.RoleMember, AddedBy: "alice"})
		appendEvent(t, js, "zoe", &events.MemberJoined{ConversationID: "c2", UserID: "z" + itoa(i), Role: events.RoleMember, AddedBy: "zoe"})
	}
	err := decide.New(js, jet.NewAppender(js), 0).State(ctx, app, "c1", func(s *decide.State) error {
		if n := len(s.Conversation().Members); n != 61 || s.Pos != last {
			t.Fatalf("folded %d members up to %d, want 61 up to %d", n, s.Pos, last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
