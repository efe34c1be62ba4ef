package decide_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

func directoryWrite(users ...string) *events.DirectoryUsersUpdated {
	p := &events.DirectoryUsersUpdated{}
	for _, u := range users {
		p.Users = append(p.Users, events.DirectoryUser{ID: u, Entity: "5", Role: "member", Active: true})
	}
	return p
}

// An announcement decided on the directory at one position, while a
// directory write lands before its append, does not go out with the
// audience it saw: its append is refused and it is decided again on the
// directory with the write.
func TestAnAnnouncementOvertakenByADirectoryWriteIsDecidedOnTheNewDirectory(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := appendEvent(t, js, "hostapp", directoryWrite("bob"))
	ds := decide.NewDirectories(js, jet.NewAppender(js))
	var audiences [][]string
	var positions []uint64
	var second uint64
	out, err := ds.Decide(ctx, app, func(dir *decide.Directory, pos uint64) ([]*events.Envelope, error) {
		audience, err := decide.Audience(decide.Announcer{ID: "boss", Super: true}, []events.Target{{Entity: "5", Role: events.TargetAll}}, dir)
		if err != nil {
			return nil, err
		}
		audiences, positions = append(audiences, audience), append(positions, pos)
		if len(audiences) == 1 { // another chatd's directory write, between decision and append
			second = appendEvent(t, js, "hostapp", directoryWrite("carol"))
		}
		e, err := events.New("conv-a1", app, at, events.Actor{ID: "boss", Type: events.ActorUser}, &events.ConversationCreated{
			ConversationID: "a1", Kind: events.KindBroadcast, ReplyPermission: events.ReplyNone, CreatedBy: "boss",
			Members: []events.Member{{UserID: "boss", Role: events.RoleAdmin}}})
		return []*events.Envelope{e}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(audiences) != 2 || !slices.Equal(audiences[0], []string{"bob"}) || !slices.Equal(audiences[1], []string{"bob", "carol"}) {
		t.Fatalf("decided on %v, want [bob] then [bob carol]", audiences)
	}
	if positions[0] != first || positions[1] != second || out.Pos != second {
		t.Fatalf("decided at %v (outcome %d), want %d then %d", positions, out.Pos, first, second)
	}
	if len(out.Appended) != 1 || out.Appended[0].Seq <= second {
		t.Fatalf("appended %+v, want one event after the directory write at %d", out.Appended, second)
	}
}

// A directory write that changes nothing appends nothing.
func TestARepeatedDirectoryWriteAppendsNothing(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	last := appendEvent(t, js, "hostapp", directoryWrite("bob", "carol"))
	ds := decide.NewDirectories(js, jet.NewAppender(js))
	out, err := ds.Decide(context.Background(), app, func(dir *decide.Directory, pos uint64) ([]*events.Envelope, error) {
		if changed := decide.ChangedUsers(dir, directoryWrite("carol").Users); len(changed) > 0 {
			t.Errorf("carol again changes %v", changed)
		}
		return nil, nil
	})
	if err != nil || len(out.Appended) != 0 || out.Pos != last {
		t.Fatalf("outcome %+v, %v: want nothing appended, decided at %d", out, err, last)
	}
}
