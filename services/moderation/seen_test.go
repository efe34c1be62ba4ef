package moderation_test

import (
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
)

// Moderation remembers every message posted, whatever the log's length: a
// repeated posting is never decided again, and a reply must name a message
// of its own conversation, before and after a restart.
func TestRepeatsAndRepliesAcrossConversations(t *testing.T) {
	at := t0
	var evs []*events.Envelope
	add := func(p events.Payload) {
		at = at.Add(time.Minute) // far apart: no flood
		e, err := events.New(events.NewEventID(), "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = uint64(len(evs) + 1)
		evs = append(evs, e)
	}
	members := []events.Member{{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}}
	for _, c := range []string{"c1", "c2"} {
		add(&events.ConversationCreated{ConversationID: c, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
			CreatedBy: "alice", Members: members})
	}
	post := func(id, conv, text, replyTo string) {
		add(&events.MessagePosted{MessageID: events.MessageID("geosector", "bob", id), ClientMsgID: id, ConversationID: conv,
			SenderID: "bob", SenderType: events.ActorUser, Content: text, ContentType: events.ContentText,
			ReplyTo: replyTo})
	}
	first := events.MessageID("geosector", "bob", "m1")
	post("m1", "c1", "hello", "")
	post("ghost", "c9", "nowhere", "") // no such conversation
	restart := len(evs)
	post("m1", "c1", "hello", "") // a client retry after the deduplication window
	post("r1", "c1", "same conversation", first)
	post("r2", "c2", "another conversation", first)
	post("r3", "c1", "an unknown message", events.MessageID("geosector", "bob", "nope"))
	post("r4", "c1", "a message posted nowhere", events.MessageID("geosector", "bob", "ghost"))

	want := map[string]string{
		"r1": "approved ",
		"r2": "rejected " + events.ReasonReplyNotFound,
		"r3": "rejected " + events.ReasonReplyNotFound,
		"r4": "rejected " + events.ReasonReplyNotFound,
	}
	for _, restored := range []int{0, restart} {
		got := decisions(t, evs, restored, 2)
		if restored == 0 {
			if d := got[first]; d != "approved " {
				t.Errorf("m1, posted twice: decided %q, want once approved", d)
			}
		} else if d, ok := got[first]; ok {
			t.Errorf("m1, posted before the restart and again after it: decided %q after the restart, want nothing", d)
		}
		for id, w := range want {
			if d := got[events.MessageID("geosector", "bob", id)]; d != w {
				t.Errorf("restored %d: %s decided %q, want %q", restored, id, d, w)
			}
		}
	}
}
