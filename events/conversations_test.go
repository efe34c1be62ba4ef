package events_test

import (
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

func validUpdated() *events.ConversationUpdated {
	return &events.ConversationUpdated{ConversationID: "c1", Kind: events.KindGroup, Title: "t",
		Settings: events.Settings{"muted": true}, ReplyPermission: events.ReplyAll, CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice"}
}

func validParticipantUpdated() *events.ParticipantUpdated {
	return &events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleMember, UpdatedBy: "alice"}
}

func TestConversationAdministrationEventsRejectInvalidPayloads(t *testing.T) {
	manySettings := events.Settings{}
	for i := 0; i <= events.MaxSettings; i++ {
		manySettings[strings.Repeat("k", i+1)] = true
	}
	cases := []struct {
		name string
		p    events.Payload
		want string
	}{
		{"updated: invalid conversation id", func() events.Payload { p := validUpdated(); p.ConversationID = "c 1"; return p }(), "conversationId"},
		{"updated: invalid updater", func() events.Payload { p := validUpdated(); p.UpdatedBy = ""; return p }(), "updatedBy"},
		{"updated: invalid creator", func() events.Payload { p := validUpdated(); p.CreatedBy = "a/b"; return p }(), "createdBy"},
		{"updated: unknown kind", func() events.Payload { p := validUpdated(); p.Kind = "channel"; return p }(), "type"},
		{"updated: unknown reply permission", func() events.Payload { p := validUpdated(); p.ReplyPermission = "some"; return p }(), "replyPermission"},
		{"updated: NUL in title", func() events.Payload { p := validUpdated(); p.Title = "a\x00b"; return p }(), "title"},
		{"updated: invalid UTF-8 in title", func() events.Payload { p := validUpdated(); p.Title = "a\xffb"; return p }(), "title"},
		{"updated: title too long", func() events.Payload {
			p := validUpdated()
			p.Title = strings.Repeat("x", events.MaxTitleBytes+1)
			return p
		}(), "title"},
		{"updated: too many settings", func() events.Payload { p := validUpdated(); p.Settings = manySettings; return p }(), "settings"},
		{"updated: setting key not an id", func() events.Payload {
			p := validUpdated()
			p.Settings = events.Settings{"a.b": true}
			return p
		}(), "settings"},
		{"updated: setting value an object", func() events.Payload {
			p := validUpdated()
			p.Settings = events.Settings{"a": map[string]any{}}
			return p
		}(), "settings.a"},
		{"updated: setting value with NUL", func() events.Payload {
			p := validUpdated()
			p.Settings = events.Settings{"a": "x\x00"}
			return p
		}(), "settings.a"},
		{"updated: setting value too long", func() events.Payload {
			p := validUpdated()
			p.Settings = events.Settings{"a": strings.Repeat("x", events.MaxSettingValueBytes+1)}
			return p
		}(), "settings.a"},
		{"participant: invalid user", func() events.Payload { p := validParticipantUpdated(); p.UserID = "b\x00"; return p }(), "userId"},
		{"participant: invalid updater", func() events.Payload { p := validParticipantUpdated(); p.UpdatedBy = "é"; return p }(), "updatedBy"},
		{"participant: unknown role", func() events.Payload { p := validParticipantUpdated(); p.Role = "owner"; return p }(), "role"},
		{"participant: empty role", func() events.Payload { p := validParticipantUpdated(); p.Role = ""; return p }(), "role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, c.want)
			}
			if _, err := events.New("e1", "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, c.p); err == nil {
				t.Fatal("New accepted an invalid payload")
			}
		})
	}
	for _, p := range []events.Payload{validUpdated(), validParticipantUpdated()} {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: valid payload refused: %v", p.EventType(), err)
		}
	}
}

func TestConversationAdministrationEventsHaveConversationSubjects(t *testing.T) {
	for p, want := range map[events.Payload]string{
		validUpdated():            "chat.evt.geosector.conv.c1.conversation.updated",
		validParticipantUpdated(): "chat.evt.geosector.conv.c1.participant.updated",
	} {
		e, err := events.New("e1", "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.Subject(); err != nil || got != want {
			t.Errorf("%s subject = %q, %v; want %q", p.EventType(), got, err, want)
		}
	}
}
