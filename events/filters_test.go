package events_test

import (
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chatbackend/chat/events"
)

// The filters SubjectsOf gives for some types match the subjects those
// types are stored under, in any application, and no other type's: a
// consumer filtering on them reads exactly its types, and the server
// accepts them together (none overlaps another).
func TestSubjectsOfMatchExactlyTheTypesGiven(t *testing.T) {
	all := samples()
	if len(all) != len(events.Types) {
		t.Fatalf("%d samples for %d types", len(all), len(events.Types))
	}
	picked := []events.Type{events.TypeMessagePosted, events.TypeMemberJoined, events.TypeModerationRulesChanged,
		events.TypeGroupCreated, events.TypeSettingsChanged}
	filters := events.SubjectsOf(picked...)
	if len(filters) != len(picked) {
		t.Fatalf("%d filters for %d types", len(filters), len(picked))
	}
	for i, a := range filters {
		for _, b := range filters[i+1:] {
			if server.SubjectsCollide(a, b) {
				t.Errorf("filters %s and %s overlap", a, b)
			}
		}
	}
	for _, typ := range events.Types {
		for _, app := range []string{"geosector", "resalice"} {
			subject := events.SubjectOf(app, all[typ])
			matched := slices.ContainsFunc(filters, func(f string) bool { return server.SubjectMatchesFilter(subject, f) })
			if want := slices.Contains(picked, typ); matched != want {
				t.Errorf("%s (%s): matched %v, want %v", typ, subject, matched, want)
			}
		}
	}
}

func TestSubjectsOfRefusesATypeOutsideTheCatalogue(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("SubjectsOf gave a filter for a type outside the catalogue")
		}
	}()
	events.SubjectsOf("NoSuchEvent")
}

func TestHandledListsTheHandlersInCatalogueOrder(t *testing.T) {
	r := events.NewRouter[int]("test")
	events.On(r, func(int, *events.Envelope, *events.MessageModerated) error { return nil })
	events.On(r, func(int, *events.Envelope, *events.ConversationCreated) error { return nil })
	r.Ignore(events.TypeMessagePosted)
	if got, want := r.Handled(), []events.Type{events.TypeConversationCreated, events.TypeMessageModerated}; !slices.Equal(got, want) {
		t.Fatalf("Handled() = %v, want %v", got, want)
	}
}
