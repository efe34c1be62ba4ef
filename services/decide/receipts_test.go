package decide_test

import (
	"slices"
	"testing"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

// In chat(), m-bob is at position 2, m-alice at 4, m-held (bob's, pending)
// at 6 and m-gone (bob's, deleted) at 7.

func TestReceiptsOnlyFromMembersForMessagesTheyCanSee(t *testing.T) {
	other := append(chat(), &events.ConversationCreated{ConversationID: "c2", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}}},
		&events.MessagePosted{MessageID: "m-c2", ClientMsgID: "k", ConversationID: "c2", SenderID: "alice",
			SenderType: events.ActorUser, Content: "x", ContentType: events.ContentText})
	bobLeft := append(chat(), &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "bob"})
	for _, tc := range []struct {
		name    string
		log     []events.Payload
		actor   string
		message string
		seq     uint64
		code    string
	}{
		{"member reads another's message", chat(), "rita", "m-alice", 4, ""},
		{"member reads their own pending message", chat(), "bob", "m-held", 6, ""},
		{"a deleted message still marks a position", chat(), "alice", "m-gone", 7, ""},
		{"another's pending message is not found", chat(), "alice", "m-held", 0, decide.CodeNotFound},
		{"unknown message", chat(), "alice", "m-nope", 0, decide.CodeNotFound},
		{"message of another conversation", other, "alice", "m-c2", 0, decide.CodeNotFound},
		{"non-member", chat(), "mallory", "m-bob", 0, decide.CodeNotMember},
		{"former member", bobLeft, "bob", "m-alice", 0, decide.CodeNotMember},
		{"unknown conversation", nil, "alice", "m-bob", 0, decide.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fold(t, tc.log...)
			r, err := decide.ReadUpTo(s, tc.actor, tc.message)
			if code(err) != tc.code {
				t.Fatalf("read: code %q, want %q", code(err), tc.code)
			}
			d, derr := decide.DeliveredUpTo(s, tc.actor, tc.message)
			if code(derr) != tc.code {
				t.Fatalf("delivered: code %q, want %q", code(derr), tc.code)
			}
			if tc.code != "" {
				if r != nil || d != nil {
					t.Fatal("a refusal carries no receipt")
				}
				return
			}
			if r == nil || r.MessageSeq != tc.seq || r.UserID != tc.actor || r.ConversationID != "c1" || d == nil || d.MessageSeq != tc.seq {
				t.Fatalf("got %+v and %+v, want receipts at %d", r, d, tc.seq)
			}
		})
	}
}

func receipt(user, message string, seq uint64, read bool) events.Payload {
	r := events.Receipt{ConversationID: "c1", UserID: user, MessageID: message, MessageSeq: seq}
	if read {
		return &events.ReadReceipt{Receipt: r}
	}
	return &events.DeliveryReceipt{Receipt: r}
}

func TestReceiptsOnlyMoveForward(t *testing.T) {
	readAlice := append(chat(), receipt("rita", "m-alice", 4, true))
	s := fold(t, readAlice...)
	for _, tc := range []struct {
		name    string
		message string
		moves   bool
	}{
		{"the same receipt again", "m-alice", false},
		{"an older receipt after a newer one", "m-bob", false},
		{"a newer one", "m-gone", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decide.ReadUpTo(s, "rita", tc.message)
			if err != nil || (r != nil) != tc.moves {
				t.Fatalf("got %+v, %v; want a receipt: %v", r, err, tc.moves)
			}
		})
	}
	t.Run("delivered at or before what was read changes nothing", func(t *testing.T) {
		for _, m := range []string{"m-bob", "m-alice"} {
			if d, err := decide.DeliveredUpTo(s, "rita", m); d != nil || err != nil {
				t.Fatalf("%s: got %+v, %v", m, d, err)
			}
		}
		if d, err := decide.DeliveredUpTo(s, "rita", "m-gone"); d == nil || err != nil {
			t.Fatalf("past the read position: got %+v, %v", d, err)
		}
	})
	t.Run("a member back after leaving starts again", func(t *testing.T) {
		s := fold(t, append(readAlice, &events.MemberLeft{ConversationID: "c1", UserID: "rita", RemovedBy: "alice"},
			&events.MemberJoined{ConversationID: "c1", UserID: "rita", Role: events.RoleMember, AddedBy: "alice"})...)
		if r, err := decide.ReadUpTo(s, "rita", "m-bob"); r == nil || err != nil {
			t.Fatalf("got %+v, %v", r, err)
		}
	})
	t.Run("read after delivered still moves", func(t *testing.T) {
		s := fold(t, append(chat(), receipt("rita", "m-gone", 7, false))...)
		if r, err := decide.ReadUpTo(s, "rita", "m-alice"); r == nil || err != nil {
			t.Fatalf("got %+v, %v", r, err)
		}
	})
}

func TestReceiptNamesTheSendersItNewlyCovers(t *testing.T) {
	// carol posts at 10 (approved at 11); rita read up to m-bob (2) before.
	log := append(chat(), &events.MemberJoined{ConversationID: "c1", UserID: "carol", Role: events.RoleMember, AddedBy: "alice"},
		&events.MessagePosted{MessageID: "m-carol", ClientMsgID: "k", ConversationID: "c1", SenderID: "carol",
			SenderType: events.ActorUser, Content: "x", ContentType: events.ContentText},
		&events.MessageModerated{MessageID: "m-carol", ConversationID: "c1", SenderID: "carol", ClientMsgID: "k", Status: events.StatusApproved},
		receipt("rita", "m-bob", 2, true))
	s := fold(t, log...)
	r, err := decide.ReadUpTo(s, "rita", "m-carol")
	if err != nil || r == nil {
		t.Fatalf("got %+v, %v", r, err)
	}
	// m-bob is behind rita's position; m-held is pending; bob's m-gone was approved.
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(r.Senders, want) {
		t.Fatalf("senders %v, want %v", r.Senders, want)
	}
	a, _ := decide.ReadUpTo(s, "alice", "m-alice")
	if want := []string{"bob"}; a == nil || !slices.Equal(a.Senders, want) {
		t.Fatalf("alice's own messages are not hers to be told of: %+v", a)
	}
}
