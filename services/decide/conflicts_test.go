package decide_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// conversation appends a group (alice admin, bob and carol members) with
// bob's approved message m-{conv}, and returns the message id.
func conversation(t *testing.T, js jetstream.JetStream, conv string) string {
	t.Helper()
	id := "m-" + conv
	append := func(actor string, p events.Payload) uint64 { return appendEvent(t, js, actor, p) }
	append("alice", &events.ConversationCreated{ConversationID: conv, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
		CreatedBy: "alice", Members: []events.Member{
			{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}, {UserID: "carol", Role: events.RoleMember}}})
	posted[id] = append("bob", &events.MessagePosted{MessageID: id, ClientMsgID: "k-" + conv, ConversationID: conv, SenderID: "bob",
		SenderType: events.ActorUser, Content: "words", ContentType: events.ContentText})
	append("moderation", &events.MessageModerated{MessageID: id, ConversationID: conv, SenderID: "bob",
		ClientMsgID: "k-" + conv, Status: events.StatusApproved})
	return id
}

// posted holds the position of each message conversation appended.
var posted = map[string]uint64{}

// A command decided at one position, while a conflicting event lands
// before its append (another chatd's command, here appended from the
// decision's hold), does not take effect on the state it saw: its append is
// refused, it is decided again on the new state, and refused there, or
// carried out when the new event does not matter to it.
func TestCommandOvertakenBetweenDecisionAndAppendIsDecidedAgain(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type command func(ms *decide.Messages, conv, msg string) (decide.Outcome, error)
	edit := func(actor string) command {
		return func(ms *decide.Messages, conv, msg string) (decide.Outcome, error) {
			return ms.Edit(ctx, decide.MessageCommand{App: app, Actor: events.Actor{ID: actor, Type: events.ActorUser},
				EventID: events.NewEventID(), ClientMsgID: "edit-" + conv, MessageID: msg, Content: "new words", At: at})
		}
	}
	del := func(actor string) command {
		return func(ms *decide.Messages, conv, msg string) (decide.Outcome, error) {
			return ms.Delete(ctx, decide.MessageCommand{App: app, Actor: events.Actor{ID: actor, Type: events.ActorUser},
				EventID: events.NewEventID(), ClientMsgID: "del-" + conv, MessageID: msg, At: at})
		}
	}
	read := func(actor string) command {
		return func(ms *decide.Messages, conv, msg string) (decide.Outcome, error) {
			return ms.Receipt(ctx, decide.ReceiptCommand{App: app, Actor: events.Actor{ID: actor, Type: events.ActorUser},
				ConversationID: conv, MessageID: msg, Read: true, At: at})
		}
	}
	for i, tc := range []struct {
		name    string
		command command
		// meanwhile is what lands between the decision and its append.
		meanwhile func(conv, msg string) (string, events.Payload)
		code      string // "": the command still takes effect, after it
	}{
		{"bob edits while alice removes him", edit("bob"), func(conv, _ string) (string, events.Payload) {
			return "alice", &events.MemberLeft{ConversationID: conv, UserID: "bob", RemovedBy: "alice"}
		}, decide.CodeNotMember},
		{"bob edits while alice deletes the message", edit("bob"), func(conv, msg string) (string, events.Payload) {
			return "alice", deletion(conv, msg, "alice")
		}, decide.CodeGone},
		{"bob edits while made read_only", edit("bob"), func(conv, _ string) (string, events.Payload) {
			return "alice", &events.MemberJoined{ConversationID: conv, UserID: "bob", Role: events.RoleReadOnly, AddedBy: "alice"}
		}, decide.CodeReplyNotAllowed},
		{"alice and bob delete the same message", del("alice"), func(conv, msg string) (string, events.Payload) {
			return "bob", deletion(conv, msg, "bob")
		}, decide.CodeGone},
		{"alice deletes bob's message while no longer admin", del("alice"), func(conv, _ string) (string, events.Payload) {
			return "alice", &events.MemberJoined{ConversationID: conv, UserID: "alice", Role: events.RoleMember, AddedBy: "alice"}
		}, decide.CodeForbidden},
		{"bob reads while alice removes him", read("bob"), func(conv, _ string) (string, events.Payload) {
			return "alice", &events.MemberLeft{ConversationID: conv, UserID: "bob", RemovedBy: "alice"}
		}, decide.CodeNotMember},
		{"carol reads while bob leaves", read("carol"), func(conv, _ string) (string, events.Payload) {
			return "bob", &events.MemberLeft{ConversationID: conv, UserID: "bob", RemovedBy: "bob"}
		}, ""},
		{"bob edits while carol posts", edit("bob"), func(conv, _ string) (string, events.Payload) {
			return "carol", &events.MessagePosted{MessageID: "m-carol-" + conv, ClientMsgID: "kc", ConversationID: conv,
				SenderID: "carol", SenderType: events.ActorUser, Content: "hi", ContentType: events.ContentText}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := fmt.Sprint("c", i)
			msg := conversation(t, js, conv)
			d := decide.New(js, jet.NewAppender(js), 0)
			var positions []uint64
			var landed uint64
			decide.HoldBeforeAppend(d, func(_ string, pos uint64) {
				positions = append(positions, pos)
				if landed == 0 {
					actor, p := tc.meanwhile(conv, msg)
					landed = appendEvent(t, js, actor, p)
				}
			})
			ms := &decide.Messages{Decider: d, Locate: func(context.Context, string, string) (string, error) { return conv, nil }}
			before := lastOf(t, d, conv)
			out, err := tc.command(ms, conv, msg)
			if code(err) != tc.code {
				t.Fatalf("outcome %v, want code %q", err, tc.code)
			}
			if len(positions) == 0 || positions[0] != before {
				t.Fatalf("first decided at %v, want %d", positions, before)
			}
			after := lastOf(t, d, conv)
			if tc.code != "" {
				if after != landed {
					t.Fatalf("conversation at %d after a refusal, want %d (the overtaking event)", after, landed)
				}
				return
			}
			if len(positions) != 2 || positions[1] != landed || out.Pos != landed || after <= landed {
				t.Fatalf("decided at %v, outcome at %d, conversation at %d; want decided again at %d and appended after it",
					positions, out.Pos, after, landed)
			}
		})
	}
}

// Two deletions of one message, by its author and an admin through two
// chatd instances, decided at the same position: one takes effect, the
// other is decided again and finds the message gone.
func TestConcurrentDeletionsOfOneMessageDeleteItOnce(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := conversation(t, js, "c1")
	var decided sync.WaitGroup
	decided.Add(2)
	var once [2]sync.Once
	errs := make(chan error, 2)
	for i, actor := range []string{"bob", "alice"} {
		d := decide.New(js, jet.NewAppender(js), 0)
		decide.HoldBeforeAppend(d, func(string, uint64) {
			once[i].Do(func() { decided.Done(); decided.Wait() }) // both decided before either appends
		})
		ms := &decide.Messages{Decider: d, Locate: func(context.Context, string, string) (string, error) { return "c1", nil }}
		go func() {
			_, err := ms.Delete(ctx, decide.MessageCommand{App: app, Actor: events.Actor{ID: actor, Type: events.ActorUser},
				EventID: events.NewEventID(), ClientMsgID: "del-" + actor, MessageID: msg, At: at})
			errs <- err
		}()
	}
	var gone, ok int
	for range 2 {
		var r *decide.Refusal
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.As(err, &r) && r.Code == decide.CodeGone:
			gone++
		default:
			t.Fatalf("unexpected outcome %v", err)
		}
	}
	if ok != 1 || gone != 1 {
		t.Fatalf("%d deletions took effect and %d found the message gone; want one of each", ok, gone)
	}
	if got := lastOf(t, decide.New(js, jet.NewAppender(js), 0), "c1"); got != 4 {
		t.Fatalf("conversation at %d, want 4: created, posted, approved, one deletion", got)
	}
}

func deletion(conv, msg, by string) *events.MessageDeleted {
	return &events.MessageDeleted{MessageID: msg, ConversationID: conv, ClientMsgID: "del-" + by, DeletedBy: by,
		Message: events.Posting{ClientMsgID: "k-" + conv, SenderID: "bob", SenderType: events.ActorUser, ContentType: events.ContentText, PostedAt: at, PostedSeq: posted[msg]}}
}

// lastOf is the position of the conversation's last event, as d folds it.
func lastOf(t *testing.T, d *decide.Decider, conv string) uint64 {
	t.Helper()
	var pos uint64
	if err := d.State(context.Background(), app, conv, func(s *decide.State) error { pos = s.Pos; return nil }); err != nil {
		t.Fatal(err)
	}
	return pos
}
