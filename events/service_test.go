package events_test

import (
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestValidServiceNameAcceptsOnlyShortLowerCaseNamesWithoutUnderscore(t *testing.T) {
	cases := map[string]bool{
		"bot": true, "support-bot": true, "0": true, "a1-b2": true, strings.Repeat("a", 32): true,
		"": false, strings.Repeat("a", 33): false, "-bot": false, "Bot": false, "my_bot": false,
		"bot.1": false, "bot*": false, "bot>": false, "b ot": false, "bøt": false,
	}
	for name, want := range cases {
		if got := events.ValidServiceName(name); got != want {
			t.Errorf("ValidServiceName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestServiceAccountCreatedIsApplicationScopedAndValidated(t *testing.T) {
	p := &events.ServiceAccountCreated{Name: "support-bot"}
	if got, want := events.SubjectOf("geosector", p), "chat.evt.geosector.app.service.account.created"; got != want {
		t.Fatalf("subject %q, want %q", got, want)
	}
	if err := (&events.ServiceAccountCreated{Name: "Support_Bot"}).Validate(); err == nil || !strings.Contains(err.Error(), "name") {
		t.Fatalf("invalid name accepted: %v", err)
	}
}

func TestServiceAccountIDIsDerivedFromAppAndName(t *testing.T) {
	a := events.ServiceAccountID("geosector", "bot")
	if a != events.ServiceAccountID("geosector", "bot") {
		t.Fatal("the same account has two ids")
	}
	for _, other := range []string{events.ServiceAccountID("geosector", "bot2"), events.ServiceAccountID("resalice", "bot")} {
		if other == a {
			t.Fatal("two accounts share an id")
		}
	}
	if !events.ValidID(a) {
		t.Fatalf("id %q is not a valid id", a)
	}
}
