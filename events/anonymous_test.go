package events_test

import (
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestAnonymousEventsRefuseWhatNamesNoVisitorOrNoClient(t *testing.T) {
	created := func() *events.AnonymousUserCreated {
		return &events.AnonymousUserCreated{ConversationID: "a1", AnonymousID: "anon-1", ProfessionalID: "pro"}
	}
	converted := func() *events.AnonymousConverted {
		return &events.AnonymousConverted{ConversationID: "a1", AnonymousID: "anon-1", UserID: "client", ConvertedBy: "pro"}
	}
	cases := []struct {
		name string
		p    events.Payload
		want string
	}{
		{"visitor id without the anon- prefix", func() events.Payload { p := created(); p.AnonymousID = "bob"; return p }(), "anonymousId"},
		{"visitor as professional", func() events.Payload { p := created(); p.ProfessionalID = "anon-2"; return p }(), "professionalId"},
		{"invalid conversation", func() events.Payload { p := created(); p.ConversationID = "a/1"; return p }(), "conversationId"},
		{"NUL in name", func() events.Payload { p := created(); p.Name = "z\x00"; return p }(), "name"},
		{"invalid UTF-8 in email", func() events.Payload { p := created(); p.Email = "\xff@x"; return p }(), "email"},
		{"NUL in metadata", func() events.Payload { p := created(); p.Metadata = map[string]string{"k": "\x00"}; return p }(), "metadata.k"},
		{"converted to a visitor", func() events.Payload { p := converted(); p.UserID = "anon-3"; return p }(), "userId"},
		{"converted from a known user", func() events.Payload { p := converted(); p.AnonymousID = "alice"; return p }(), "anonymousId"},
		{"converted by nobody", func() events.Payload { p := converted(); p.ConvertedBy = ""; return p }(), "convertedBy"},
	}
	for _, tc := range cases {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	if err := created().Validate(); err != nil {
		t.Errorf("a valid visitor refused: %v", err)
	}
	if err := converted().Validate(); err != nil {
		t.Errorf("a valid conversion refused: %v", err)
	}
}

func TestVisitorIDsAreDerivedFromDeviceAndProfessional(t *testing.T) {
	a := events.AnonymousID("resalice", "device-0123456789", "pro")
	if a != events.AnonymousID("resalice", "device-0123456789", "pro") {
		t.Fatal("the same device and professional give two visitors")
	}
	for _, other := range []string{events.AnonymousID("resalice", "device-0123456789", "pro2"),
		events.AnonymousID("resalice", "device-9876543210", "pro"), events.AnonymousID("geosector", "device-0123456789", "pro")} {
		if other == a {
			t.Fatalf("%s names two visitors", a)
		}
	}
	if !events.IsAnonymous(a) || !events.ValidID(a) || strings.Contains(a, "device") {
		t.Fatalf("visitor id %q: want a valid anon- id that does not reveal the device", a)
	}
	if c := events.VisitorConversationID("resalice", a); !events.ValidID(c) || c == events.VisitorConversationID("geosector", a) {
		t.Fatalf("conversation id %q", c)
	}
}
