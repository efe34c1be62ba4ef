package moderation_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/moderation"
)

// Moderation's durable consumer reads only Subjects(). Fed only the events
// matching them, it decides exactly as it does fed the whole log, with
// membership changing under it and the events it ignores (decisions,
// receipts, edits, settings) interleaved; and those are the ones the filter
// keeps from it.
func TestModerationDecidesTheSameFromItsFilteredSubjects(t *testing.T) {
	base := history(t)
	at := base[len(base)-1].At
	var evs []*events.Envelope
	add := func(p events.Payload) {
		at = at.Add(100 * time.Millisecond)
		e, err := events.New(events.NewEventID(), "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	for i, e := range base {
		evs = append(evs, e)
		if e.Type != events.TypeMessagePosted {
			continue
		}
		p, _ := e.Payload()
		m := p.(*events.MessagePosted)
		add(&events.MessageModerated{MessageID: m.MessageID, ConversationID: "c1", SenderID: "bob", ClientMsgID: m.ClientMsgID,
			Status: events.StatusApproved, PostedSeq: e.Seq})
		add(&events.ReadReceipt{Receipt: events.Receipt{ConversationID: "c1", UserID: "alice", MessageID: m.MessageID, MessageSeq: e.Seq}})
		switch i % 9 {
		case 3: // bob leaves: his next postings are not_member
			add(&events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "alice"})
		case 6:
			add(&events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: events.RoleMember, AddedBy: "alice"})
		case 8:
			add(&events.MessageEdited{ConversationID: "c1", MessageID: m.MessageID, ClientMsgID: "e" + m.ClientMsgID, Content: "edited",
				Message: events.Posting{ClientMsgID: m.ClientMsgID, SenderID: "bob", SenderType: events.ActorUser, ContentType: events.ContentText,
					PostedAt: e.At, PostedSeq: e.Seq}})
			add(&events.SettingsChanged{UserID: "bob", Settings: events.UserSettings{}})
		}
	}
	for i, e := range evs {
		e.Seq = uint64(i + 1)
	}
	subjects := moderation.Subjects()
	var filtered []*events.Envelope
	kept := map[events.Type]bool{}
	for _, e := range evs {
		p, err := e.Payload()
		if err != nil {
			t.Fatal(err)
		}
		subject := events.SubjectOf(e.App, p)
		if slices.ContainsFunc(subjects, func(f string) bool { return server.SubjectMatchesFilter(subject, f) }) {
			filtered = append(filtered, e)
			kept[e.Type] = true
		}
	}
	for _, typ := range []events.Type{events.TypeMessagePosted, events.TypeMemberLeft, events.TypeMemberJoined,
		events.TypeConversationCreated, events.TypeModerationRulesChanged} {
		if !kept[typ] {
			t.Errorf("the filter keeps %s from moderation, which needs it", typ)
		}
	}
	for _, typ := range []events.Type{events.TypeMessageModerated, events.TypeReadReceipt, events.TypeMessageEdited, events.TypeSettingsChanged} {
		if kept[typ] {
			t.Errorf("the filter delivers %s, which moderation ignores", typ)
		}
	}
	whole := decisions(t, evs, 0, 5)
	seen := map[string]bool{}
	for _, d := range whole {
		seen[d] = true
	}
	if !seen["rejected not_member"] || !seen["approved "] {
		t.Fatalf("the history should give both not_member and approved decisions: %v", whole)
	}
	if got := decisions(t, filtered, 0, 5); !maps.Equal(got, whole) {
		t.Errorf("fed its subjects only, moderation decides otherwise:\n%v\n%v", got, whole)
	}
}
