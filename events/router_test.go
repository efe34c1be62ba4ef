package events_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

type trail struct{ seen []string }

func joined(t *trail, _ *events.Envelope, p *events.MemberJoined) error {
	t.seen = append(t.seen, "joined "+p.UserID)
	return nil
}

func posted(t *trail, _ *events.Envelope, p *events.MessagePosted) error {
	if p.Content == "boom" {
		panic("cannot post boom")
	}
	t.seen = append(t.seen, "posted "+p.Content)
	return errors.New("posted fails")
}

func sample(t *testing.T, p events.Payload) *events.Envelope {
	t.Helper()
	e, err := events.Decode(mustEncode(t, p)) // a decoded envelope, as consumers get them
	if err != nil {
		t.Fatal(err)
	}
	e.Seq = 7
	return e
}

func TestRouterDispatchesEachTypeToItsTypedHandler(t *testing.T) {
	r := events.NewRouter[*trail]("test")
	events.On(r, joined)
	events.On(r, posted)
	r.Ignore(events.TypeMemberLeft)
	var tr trail
	if err := r.Handle(&tr, sample(t, samples()[events.TypeMemberJoined])); err != nil {
		t.Fatal(err)
	}
	err := r.Handle(&tr, sample(t, samples()[events.TypeMessagePosted]))
	if err == nil || err.Error() != "posted fails" {
		t.Fatalf("the handler's error came back as %v", err)
	}
	if err := r.Handle(&tr, sample(t, samples()[events.TypeMemberLeft])); err != nil {
		t.Fatal(err)
	}
	want := []string{"joined carol", "posted bonjour <b>&</b> 👋"}
	if !slices.Equal(tr.seen, want) {
		t.Fatalf("handled %q, want %q", tr.seen, want)
	}
}

func TestRouterNamesTheTypesItForgets(t *testing.T) {
	r := events.NewRouter[*trail]("test")
	events.On(r, joined)
	r.Ignore(events.TypeMemberLeft)
	if !r.Handles(events.TypeMemberJoined) || r.Handles(events.TypeMemberLeft) || !r.Ignores(events.TypeMemberLeft) ||
		r.Ignores(events.TypeMemberJoined) {
		t.Fatal("Handles and Ignores disagree with the declarations")
	}
	var want []events.Type
	for _, typ := range events.Types {
		if typ != events.TypeMemberJoined && typ != events.TypeMemberLeft {
			want = append(want, typ)
		}
	}
	if got := r.Forgotten(); !slices.Equal(got, want) {
		t.Fatalf("Forgotten() = %v, want %v", got, want)
	}
}

func TestRouterRefusesDoubleDeclarations(t *testing.T) {
	for name, declare := range map[string]func(r *events.Router[*trail]){
		"handled twice":             func(r *events.Router[*trail]) { events.On(r, joined); events.On(r, joined) },
		"handled and ignored":       func(r *events.Router[*trail]) { events.On(r, joined); r.Ignore(events.TypeMemberJoined) },
		"ignored twice":             func(r *events.Router[*trail]) { r.Ignore(events.TypeMemberLeft, events.TypeMemberLeft) },
		"ignored, not in catalogue": func(r *events.Router[*trail]) { r.Ignore("FutureThing") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("accepted")
				}
			}()
			declare(events.NewRouter[*trail]("test"))
		})
	}
}

func TestRouterTurnsAPanicIntoAnErrorNamingTheEvent(t *testing.T) {
	r := events.NewRouter[*trail]("test")
	events.On(r, posted)
	p := *samples()[events.TypeMessagePosted].(*events.MessagePosted)
	p.Content = "boom"
	e := sample(t, &p)
	err := r.Handle(&trail{}, e)
	var pe *events.PanicError
	if !errors.As(err, &pe) || pe.Event != e || pe.Value != "cannot post boom" {
		t.Fatalf("error %v, want a PanicError for the event", err)
	}
	if !strings.Contains(pe.Stack, "events_test.posted") || strings.Contains(pe.Stack, "runtime.") ||
		strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("stack %q does not start at the panicking handler on one line", pe.Stack)
	}
	if !strings.Contains(err.Error(), "event 7 (MessagePosted): cannot post boom") {
		t.Fatalf("error %q does not name the event and the panic", err)
	}
}

func TestRouterLeavesUndeclaredTypesAlone(t *testing.T) {
	r := events.NewRouter[*trail]("test")
	var tr trail
	if err := r.Handle(&tr, sample(t, samples()[events.TypeMemberJoined])); err != nil || len(tr.seen) != 0 {
		t.Fatalf("undeclared type: %v, %v", err, tr.seen)
	}
}
