package events_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
)

func validDirectory() *events.DirectoryUsersUpdated {
	return &events.DirectoryUsersUpdated{Users: []events.DirectoryUser{
		{ID: "alice", Entity: "5", Role: "admin", Name: "Alice Émile", Active: true},
		{ID: "bob", Entity: "", Role: "member", Active: false},
	}}
}

func validTargeted() *events.AnnouncementTargeted {
	expires := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return &events.AnnouncementTargeted{AnnouncementID: "a1", ConversationID: "a1", MessageID: "m1", From: "alice",
		Title: "Réunion", Content: "Demain 9h", ReplyPermission: events.ReplyNone, Pinned: true, ExpiresAt: &expires,
		Targets: []events.Target{{Entity: "5", Role: events.TargetAll}}, DirectorySeq: 7, Part: 1, Parts: 2, Total: 3,
		Recipients: []string{"bob", "carol"}}
}

func TestAnnouncementAndDirectoryPayloadsRefuseWhatConsumersCouldNotHandle(t *testing.T) {
	targeted := func(change func(*events.AnnouncementTargeted)) events.Payload {
		p := validTargeted()
		change(p)
		return p
	}
	directory := func(change func(*events.DirectoryUsersUpdated)) events.Payload {
		p := validDirectory()
		change(p)
		return p
	}
	many := make([]events.DirectoryUser, events.MaxDirectoryUsersPerEvent+1)
	for i := range many {
		many[i] = events.DirectoryUser{ID: strings.Repeat("u", 1+i%60) + string(rune('a'+i/60%26)) + string(rune('a'+i/1560)), Role: "member"}
	}
	cases := []struct {
		name string
		p    events.Payload
		want string
	}{
		{"targeted: blank title", targeted(func(p *events.AnnouncementTargeted) { p.Title = "  " }), "title"},
		{"targeted: NUL in content", targeted(func(p *events.AnnouncementTargeted) { p.Content = "a\x00" }), "content"},
		{"targeted: invalid UTF-8 title", targeted(func(p *events.AnnouncementTargeted) { p.Title = "a\xff" }), "title"},
		{"targeted: invalid author", targeted(func(p *events.AnnouncementTargeted) { p.From = "a/b" }), "from"},
		{"targeted: no targets", targeted(func(p *events.AnnouncementTargeted) { p.Targets = nil }), "targets"},
		{"targeted: invalid entity", targeted(func(p *events.AnnouncementTargeted) { p.Targets[0].Entity = "5 6" }), "targets[0].entity"},
		{"targeted: empty role", targeted(func(p *events.AnnouncementTargeted) { p.Targets[0].Role = "" }), "targets[0].role"},
		{"targeted: unknown reply permission", targeted(func(p *events.AnnouncementTargeted) { p.ReplyPermission = "some" }), "replyPermission"},
		{"targeted: no recipients", targeted(func(p *events.AnnouncementTargeted) { p.Recipients = nil }), "recipients"},
		{"targeted: unsorted recipients", targeted(func(p *events.AnnouncementTargeted) { p.Recipients = []string{"carol", "bob"} }), "recipients[1]"},
		{"targeted: repeated recipient", targeted(func(p *events.AnnouncementTargeted) { p.Recipients = []string{"bob", "bob"} }), "recipients[1]"},
		{"targeted: invalid recipient", targeted(func(p *events.AnnouncementTargeted) { p.Recipients = []string{"b.b"} }), "recipients[0]"},
		{"targeted: part past parts", targeted(func(p *events.AnnouncementTargeted) { p.Part = 3 }), "part"},
		{"targeted: total below the part", targeted(func(p *events.AnnouncementTargeted) { p.Total = 1 }), "total"},
		{"targeted: invalid attachment", targeted(func(p *events.AnnouncementTargeted) { p.AttachmentID = "../x" }), "attachmentId"},
		{"directory: no users", directory(func(p *events.DirectoryUsersUpdated) { p.Users = nil }), "users"},
		{"directory: invalid id", directory(func(p *events.DirectoryUsersUpdated) { p.Users[0].ID = "a b" }), "users[0].id"},
		{"directory: invalid entity", directory(func(p *events.DirectoryUsersUpdated) { p.Users[1].Entity = "5/6" }), "users[1].entity"},
		{"directory: entity all", directory(func(p *events.DirectoryUsersUpdated) { p.Users[1].Entity = "all" }), "users[1].entity"},
		{"directory: missing role", directory(func(p *events.DirectoryUsersUpdated) { p.Users[0].Role = "" }), "users[0].role"},
		{"directory: role all", directory(func(p *events.DirectoryUsersUpdated) { p.Users[0].Role = "all" }), "users[0].role"},
		{"directory: NUL in name", directory(func(p *events.DirectoryUsersUpdated) { p.Users[0].Name = "\x00" }), "users[0].name"},
		{"directory: long name", directory(func(p *events.DirectoryUsersUpdated) { p.Users[0].Name = strings.Repeat("é", 101) }), "users[0].name"},
		{"directory: user twice", directory(func(p *events.DirectoryUsersUpdated) { p.Users[1].ID = "alice" }), "listed twice"},
		{"directory: too many users", directory(func(p *events.DirectoryUsersUpdated) { p.Users = many }), "at most"},
	}
	for _, tc := range cases {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
			continue
		}
		var invalid *events.InvalidError
		if _, err := events.New("e1", "geosector", at, events.Actor{ID: "svc", Type: events.ActorService}, tc.p); !errors.As(err, &invalid) {
			t.Errorf("%s: New gave %v, want an InvalidError", tc.name, err)
		}
	}
}

func TestAnnouncementAndDirectoryEventsHaveTheirSubjects(t *testing.T) {
	if got, want := events.SubjectOf("geosector", validTargeted()), "chat.evt.geosector.conv.a1.announcement.targeted"; got != want {
		t.Errorf("AnnouncementTargeted under %q, want %q", got, want)
	}
	got := events.SubjectOf("geosector", validDirectory())
	if want := "chat.evt.geosector.app.directory.users.updated"; got != want {
		t.Errorf("DirectoryUsersUpdated under %q, want %q", got, want)
	}
	if f := events.DirectorySubjects("geosector"); !strings.HasPrefix(got, strings.TrimSuffix(f, ">")) {
		t.Errorf("DirectorySubjects %q does not match %q", f, got)
	}
}

func TestAnnouncementIDIsDerivedFromAppAuthorAndClientID(t *testing.T) {
	a := events.AnnouncementID("geosector", "alice", "k1")
	if !events.ValidID(a) || a != events.AnnouncementID("geosector", "alice", "k1") {
		t.Fatalf("AnnouncementID %q is not a stable valid id", a)
	}
	for _, other := range []string{events.AnnouncementID("resalice", "alice", "k1"), events.AnnouncementID("geosector", "bob", "k1"),
		events.AnnouncementID("geosector", "alice", "k2")} {
		if other == a {
			t.Errorf("two different requests share announcement id %q", a)
		}
	}
}

// The largest events the API can build stay under the log's 1 MiB message
// limit (jet.EventStreamConfig), JSON escapes included.
func TestTheLargestAnnouncementAndDirectoryEventsFitInOneLogMessage(t *testing.T) {
	const limit = 1 << 20
	long := func(i int) string { return fmt.Sprintf("%064d", i) }
	worst := strings.Repeat("\x01", 200) // each character escaped as \u0001
	users := make([]events.DirectoryUser, events.MaxDirectoryUsersPerEvent)
	for i := range users {
		users[i] = events.DirectoryUser{ID: long(i), Entity: long(i), Role: long(i), Name: worst}
	}
	part := validTargeted()
	part.Title, part.Content = strings.Repeat("<", 200), strings.Repeat("\x01", 8000)
	part.Recipients, part.Targets = make([]string, events.MaxRecipientsPerEvent), nil
	for i := range part.Recipients {
		part.Recipients[i] = long(i)
	}
	for i := 0; i < 100; i++ {
		part.Targets = append(part.Targets, events.Target{Entity: long(i), Role: long(i)})
	}
	part.Total = len(part.Recipients)
	for _, p := range []events.Payload{&events.DirectoryUsersUpdated{Users: users}, part} {
		e, err := events.New(strings.Repeat("e", 64), "geosector", at, events.Actor{ID: long(0), Type: events.ActorUser}, p)
		if err != nil {
			t.Fatalf("%s: %v", p.EventType(), err)
		}
		b, err := e.Encode()
		if err != nil || len(b) >= limit {
			t.Errorf("%s encodes to %d bytes (%v), over the log's %d", p.EventType(), len(b), err, limit)
		}
	}
}
