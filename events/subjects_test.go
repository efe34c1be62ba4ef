package events

import (
	"strings"
	"testing"
)

// scoped is a payload of a type outside the catalogue, for the subject forms
// no event in the catalogue uses yet.
type scoped struct {
	typ Type
	id  string
}

func (p scoped) EventType() Type { return p.typ }
func (scoped) Validate() error   { return nil }
func (p scoped) scopeID() string { return p.id }

// scopes is a catalogue with one user-scoped and one application-scoped type.
var scopes = newCatalogue(
	Spec{Type: "ReadReceipt", Version: 1, Scope: ScopeUser, New: func() Payload { return scoped{typ: "ReadReceipt"} }},
	Spec{Type: "RulesChanged", Version: 1, Scope: ScopeApp, New: func() Payload { return scoped{typ: "RulesChanged"} }},
)

func TestSubjectOfNamesAppScopeAndDottedType(t *testing.T) {
	cases := []struct {
		name string
		p    Payload
		want string
	}{
		{"conversation created", &ConversationCreated{ConversationID: "c1"}, "chat.evt.geosector.conv.c1.conversation.created"},
		{"member joined", &MemberJoined{ConversationID: "c1"}, "chat.evt.geosector.conv.c1.member.joined"},
		{"member left", &MemberLeft{ConversationID: "c1"}, "chat.evt.geosector.conv.c1.member.left"},
		{"message posted", &MessagePosted{ConversationID: "c-2_x"}, "chat.evt.geosector.conv.c-2_x.message.posted"},
		{"message moderated", &MessageModerated{ConversationID: "c1"}, "chat.evt.geosector.conv.c1.message.moderated"},
	}
	for _, tc := range cases {
		if got := SubjectOf("geosector", tc.p); got != tc.want {
			t.Errorf("%s: SubjectOf = %q, want %q", tc.name, got, tc.want)
		}
	}
	for p, want := range map[scoped]string{
		{"ReadReceipt", "alice"}: "chat.evt.geosector.user.alice.read.receipt",
		{"RulesChanged", ""}:     "chat.evt.geosector.app.rules.changed",
	} {
		if got := scopes.subject("geosector", p); got != want {
			t.Errorf("%s: subject = %q, want %q", p.typ, got, want)
		}
	}
}

func TestEveryCatalogueEventHasASubjectInsideTheLog(t *testing.T) {
	for _, typ := range Types {
		p := newPayload(typ)
		if p == nil {
			t.Fatalf("newPayload(%s) = nil for a catalogue type", typ)
		}
		if p.EventType() != typ {
			t.Fatalf("newPayload(%s) is a %s", typ, p.EventType())
		}
		s := SubjectOf("a", p)
		if len(s) <= len(SubjectRoot)+1 || s[:len(SubjectRoot)+1] != SubjectRoot+"." {
			t.Errorf("%s is stored under %q, outside %s", typ, s, AllEvents)
		}
	}
}

// storedUnder accepts the subject SubjectOf builds, for every scope, and
// nothing else: not another application, scope, id or type, nor a subject
// that only begins or ends like it.
func TestStoredUnderAcceptsOnlyTheEventsOwnSubject(t *testing.T) {
	cases := []struct {
		c *catalogue
		p Payload
	}{
		{known, &MemberJoined{ConversationID: "c1"}},
		{known, &MessagePosted{ConversationID: "c-2_x"}},
		{known, &GroupCreated{GroupID: "g1"}},
		{known, &SettingsChanged{UserID: "bob"}},
		{known, &WebhooksChanged{}},
		{scopes, scoped{"ReadReceipt", "alice"}},
		{scopes, scoped{"RulesChanged", ""}},
	}
	for _, tc := range cases {
		own := tc.c.subject("geosector", tc.p)
		if !tc.c.storedUnder(own, "geosector", tc.p) {
			t.Errorf("%s refused under its own subject %s", tc.p.EventType(), own)
		}
		others := []string{
			tc.c.subject("geo", tc.p),
			tc.c.subject("geosectors", tc.p),
			tc.c.subject("geosectox", tc.p),
			own + ".x", own[:len(own)-1], "x" + own, "chat.evt", "",
			strings.Replace(own, "chat.evt.", "chat.evts.", 1),
			strings.Replace(own, ".geosector.", ".geosector.x.", 1),
		}
		if id := tc.p.scopeID(); id != "" { // another id of the same length
			others = append(others, strings.Replace(own, "."+id+".", "."+id[:len(id)-1]+"z.", 1))
		}
		for _, scope := range []string{"conv", "user", "group", "app"} {
			for _, from := range []string{".conv.", ".user.", ".group.", ".app."} {
				if other := strings.Replace(own, from, "."+scope+".", 1); other != own {
					others = append(others, other, strings.Replace(own, from, "."+scope+".x.", 1))
				}
			}
		}
		for _, other := range others {
			if other != own && tc.c.storedUnder(other, "geosector", tc.p) {
				t.Errorf("%s accepted under %s, its subject being %s", tc.p.EventType(), other, own)
			}
		}
		if tc.c.storedUnder(own, "geo", tc.p) || tc.c.storedUnder(own, "geosectors", tc.p) || tc.c.storedUnder(own, "geosectox", tc.p) {
			t.Errorf("%s of another application accepted under %s", tc.p.EventType(), own)
		}
	}
}

func TestNewPayloadRefusesUnknownTypes(t *testing.T) {
	for _, typ := range []Type{"", "messagePosted", "MessagePosted ", "Nope"} {
		if p := newPayload(typ); p != nil {
			t.Errorf("newPayload(%q) = %T, want nil", typ, p)
		}
	}
}

func TestDeadLetterSubjectIsPerConsumer(t *testing.T) {
	if got, want := DeadLetterSubjectFor("moderation"), "chat.dlq.moderation"; got != want {
		t.Fatalf("DeadLetterSubjectFor = %q, want %q", got, want)
	}
}
