package decide_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

// A message reads back as posted, then as each later event left it.
func TestMessagesReadBackAsTheLogLeftThem(t *testing.T) {
	s := fold(t, append(group(),
		&events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "bob",
			SenderType: events.ActorUser, Content: "voir pièce", ContentType: events.ContentFile, AttachmentID: "f1"},
		&events.MessagePosted{MessageID: "m2", ClientMsgID: "k2", ConversationID: "c1", SenderID: "alice",
			SenderType: events.ActorUser, Content: "merci", ContentType: events.ContentText, ReplyTo: "m1"},
		// A repeat of m1's id keeps the first posting.
		&events.MessagePosted{MessageID: "m1", ClientMsgID: "other", ConversationID: "c1", SenderID: "rita",
			SenderType: events.ActorUser, Content: "x", ContentType: events.ContentText},
		&events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "bob", ClientMsgID: "k1", Status: events.StatusPending},
		&events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "bob", ClientMsgID: "k1", Status: events.StatusApproved},
		&events.MessageModerated{MessageID: "m2", ConversationID: "c1", SenderID: "alice", ClientMsgID: "k2", Status: events.StatusApproved},
		// Only a held message's decision is replaced.
		&events.MessageModerated{MessageID: "m2", ConversationID: "c1", SenderID: "alice", ClientMsgID: "k2", Status: events.StatusRejected},
		&events.MessageEdited{MessageID: "m2", ConversationID: "c1", ClientMsgID: "k3", Content: "merci !",
			Message: events.Posting{ClientMsgID: "k2", SenderID: "alice", SenderType: events.ActorUser, ContentType: events.ContentText, PostedSeq: 3}},
		&events.MessageDeleted{MessageID: "m1", ConversationID: "c1", ClientMsgID: "k4", DeletedBy: "alice",
			Message: events.Posting{ClientMsgID: "k1", SenderID: "bob", SenderType: events.ActorUser, ContentType: events.ContentFile, PostedSeq: 2}},
	)...)
	// fold's event i is at at+i seconds and position i+1; group() is one event.
	want := map[string]decide.Message{
		"m1": {ID: "m1", ClientMsgID: "k1", SenderID: "bob", SenderType: events.ActorUser, ContentType: events.ContentFile,
			Attachment: "f1", PostedAt: at.Add(time.Second), PostedSeq: 2, Status: events.StatusApproved, DeletedAt: at.Add(9 * time.Second)},
		"m2": {ID: "m2", ClientMsgID: "k2", SenderID: "alice", SenderType: events.ActorUser, ContentType: events.ContentText,
			ReplyTo: "m1", PostedAt: at.Add(2 * time.Second), PostedSeq: 3, Status: events.StatusApproved, EditedAt: at.Add(8 * time.Second)},
	}
	for id, w := range want {
		got, ok := s.Message(id)
		if !ok || got != w {
			t.Errorf("message %s:\n got %+v\nwant %+v", id, got, w)
		}
	}
	if _, ok := s.Message("m3"); ok {
		t.Error("a message never posted is found")
	}
	if other := fold(t, group()...); func() bool { _, ok := other.Message("m1"); return ok }() {
		t.Error("a message is found in a conversation it was not posted in")
	}
}

// The Decider keeps every message of the conversations it caches: their
// cost must not be objects the collector marks one by one. Ten thousand
// messages, with their decisions, edits and deletions, live in a handful of
// allocations (the old layout held five objects per message).
func TestAConversationsMessagesLiveInAFewObjects(t *testing.T) {
	const n = 10000
	s := decide.NewState(app, "c1")
	apply := func(seq int, p events.Payload) {
		e, err := events.New("e"+strconv.Itoa(seq), app, at.Add(time.Duration(seq)*time.Millisecond), events.Actor{ID: "x", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = uint64(seq)
		if err := s.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	objects := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapObjects
	}
	seq := 1
	apply(seq, group()[0])
	before := objects()
	for i := range n {
		id := "m" + strconv.Itoa(i)
		sender := []string{"alice", "bob"}[i%2]
		posted := seq + 1
		for _, p := range []events.Payload{
			&events.MessagePosted{MessageID: id, ClientMsgID: "k" + id, ConversationID: "c1", SenderID: sender,
				SenderType: events.ActorUser, Content: "bonjour", ContentType: events.ContentText, ReplyTo: "m0"},
			&events.MessageModerated{MessageID: id, ConversationID: "c1", SenderID: sender, ClientMsgID: "k" + id, Status: events.StatusApproved},
		} {
			seq++
			apply(seq, p)
		}
		if i%10 == 0 {
			seq++
			apply(seq, &events.MessageEdited{MessageID: id, ConversationID: "c1", ClientMsgID: "edit" + id, Content: "bonsoir",
				Message: events.Posting{ClientMsgID: "k" + id, SenderID: sender, SenderType: events.ActorUser, ContentType: events.ContentText, PostedSeq: uint64(posted)}})
		}
	}
	after := objects()
	if grown := int64(after) - int64(before); grown > n/20 {
		t.Errorf("%d messages hold %d more heap objects, want at most %d", n, grown, n/20)
	}
	if m, ok := s.Message("m9990"); !ok || m.ClientMsgID != "km9990" || m.SenderID != "alice" || m.ReplyTo != "m0" || m.EditedAt.IsZero() {
		t.Errorf("m9990 reads back as %+v", m)
	}
	runtime.KeepAlive(s)
}
