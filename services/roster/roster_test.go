package roster_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

var at = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func env(t *testing.T, app string, p events.Payload) *events.Envelope {
	t.Helper()
	e, err := events.New(events.NewEventID(), app, at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// stored returns the envelope as a consumer reads it from the log.
func stored(t *testing.T, e *events.Envelope) *events.Envelope {
	t.Helper()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := events.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func created(id string, perm events.ReplyPermission, members ...events.Member) *events.ConversationCreated {
	return &events.ConversationCreated{ConversationID: id, Kind: events.KindGroup, ReplyPermission: perm, CreatedBy: "alice", Members: members}
}

func admin(u string) events.Member  { return events.Member{UserID: u, Role: events.RoleAdmin} }
func member(u string) events.Member { return events.Member{UserID: u, Role: events.RoleMember} }

func TestConversationCreatedRecordsMembersAndSettings(t *testing.T) {
	r := roster.New()
	r.Apply(stored(t, env(t, "geosector", created("c1", events.ReplyAdminsOnly, admin("alice"), member("bob")))))
	c := r.Get("geosector", "c1")
	if c == nil {
		t.Fatal("conversation not created")
	}
	if c.Kind != events.KindGroup || c.ReplyPermission != events.ReplyAdminsOnly || c.CreatedBy != "alice" {
		t.Fatalf("conversation = %+v", c)
	}
	want := map[string]events.Role{"alice": events.RoleAdmin, "bob": events.RoleMember}
	if !reflect.DeepEqual(c.Members, want) {
		t.Fatalf("members = %v, want %v", c.Members, want)
	}
	ids := c.MemberIDs()
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"alice", "bob"}) {
		t.Fatalf("MemberIDs = %v", ids)
	}
	if r.Len() != 1 {
		t.Fatalf("Len = %d", r.Len())
	}
}

func TestMembershipFollowsJoinsAndLeaves(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplyAll, admin("alice"), member("bob"))))
	r.Apply(env(t, "geosector", &events.MemberJoined{ConversationID: "c1", UserID: "carol", Role: events.RoleReadOnly, AddedBy: "alice"}))
	r.Apply(env(t, "geosector", &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "alice"}))
	c := r.Get("geosector", "c1")
	if c.IsMember("bob") {
		t.Error("bob left but is still a member")
	}
	if !c.IsMember("carol") || c.Members["carol"] != events.RoleReadOnly {
		t.Errorf("carol = %q, member=%v; want read_only member", c.Members["carol"], c.IsMember("carol"))
	}
	if !c.IsMember("alice") {
		t.Error("alice lost membership")
	}
	if c.IsMember("mallory") {
		t.Error("a stranger is a member")
	}
}

func TestMemberJoinedAgainChangesRole(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplyAll, admin("alice"), member("bob"))))
	r.Apply(env(t, "geosector", &events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: events.RoleAdmin, AddedBy: "alice"}))
	if got := r.Get("geosector", "c1").Members["bob"]; got != events.RoleAdmin {
		t.Fatalf("bob's role = %q, want admin", got)
	}
}

func TestApplyingEveryEventTwiceGivesTheSameState(t *testing.T) {
	log := []*events.Envelope{
		env(t, "geosector", created("c1", events.ReplyAll, admin("alice"), member("bob"))),
		env(t, "geosector", &events.MemberJoined{ConversationID: "c1", UserID: "carol", Role: events.RoleMember, AddedBy: "alice"}),
		env(t, "geosector", &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "bob"}),
		env(t, "resalice", created("c2", events.ReplyNone, admin("dave"))),
	}
	once, twice := roster.New(), roster.New()
	for _, e := range log {
		once.Apply(e)
		twice.Apply(e)
		twice.Apply(stored(t, e))
	}
	for _, k := range []roster.Key{{App: "geosector", Conversation: "c1"}, {App: "resalice", Conversation: "c2"}} {
		if !reflect.DeepEqual(once.Get(k.App, k.Conversation), twice.Get(k.App, k.Conversation)) {
			t.Errorf("%v: once %+v, twice %+v", k, once.Get(k.App, k.Conversation), twice.Get(k.App, k.Conversation))
		}
	}
	if once.Len() != twice.Len() {
		t.Errorf("Len once %d, twice %d", once.Len(), twice.Len())
	}
}

func TestRepeatedConversationCreatedKeepsLaterChanges(t *testing.T) {
	r := roster.New()
	c := env(t, "geosector", created("c1", events.ReplyAll, admin("alice"), member("bob")))
	r.Apply(c)
	r.Apply(env(t, "geosector", &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "alice"}))
	r.Apply(c) // a late redelivery of the creation
	if r.Get("geosector", "c1").IsMember("bob") {
		t.Fatal("a redelivered ConversationCreated brought back a member who had left")
	}
}

func TestMemberEventsOnUnknownConversationAreHarmless(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", &events.MemberLeft{ConversationID: "nope", UserID: "bob", RemovedBy: "bob"}))
	r.Apply(env(t, "geosector", &events.MemberJoined{ConversationID: "nope", UserID: "bob", Role: events.RoleAdmin, AddedBy: "bob"}))
	if r.Len() != 0 || r.Get("geosector", "nope") != nil {
		t.Fatalf("member events created a conversation: Len=%d", r.Len())
	}
}

func TestConversationsAreSeparatedByApplication(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplyAll, admin("alice"))))
	r.Apply(env(t, "resalice", &events.MemberJoined{ConversationID: "c1", UserID: "mallory", Role: events.RoleAdmin, AddedBy: "mallory"}))
	if r.Get("resalice", "c1") != nil {
		t.Fatal("conversation c1 of geosector visible under resalice")
	}
	if r.Get("geosector", "c1").IsMember("mallory") {
		t.Fatal("a join in resalice added a member to geosector's conversation of the same id")
	}
}

func TestEventsThatAreNotMembershipAreIgnored(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplyAll, admin("alice"))))
	before := fmt.Sprint(r.Get("geosector", "c1"))
	r.Apply(env(t, "geosector", &events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "bob",
		SenderType: events.ActorUser, Content: "hi", ContentType: events.ContentText}))
	r.Apply(env(t, "geosector", &events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "bob", ClientMsgID: "k1", Status: events.StatusApproved}))
	if after := fmt.Sprint(r.Get("geosector", "c1")); after != before || r.Len() != 1 {
		t.Fatalf("state changed: %s -> %s", before, after)
	}
}

func TestUndecodableEventsAreIgnored(t *testing.T) {
	r := roster.New()
	for _, b := range []string{
		`{"id":"e1","type":"ConversationCreated","v":1,"app":"geosector","data":{"conversationId":"c1","type":"group","replyPermission":"all","createdBy":"a","members":[]}}`,
		`{"id":"e2","type":"ConversationCreated","v":1,"app":"geosector","data":{"conversationId":"c/2","type":"group","replyPermission":"all","createdBy":"a","members":[{"userId":"a","role":"admin"}]}}`,
		`{"id":"e3","type":"FutureEvent","v":1,"app":"geosector","data":{"conversationId":"c3"}}`,
		`{"id":"e4","type":"MemberJoined","v":1,"app":"geosector","data":"oops"}`,
	} {
		e, err := events.Decode([]byte(b))
		if err != nil {
			t.Fatalf("Decode %s: %v", b, err)
		}
		r.Apply(e)
	}
	if r.Len() != 0 {
		t.Fatalf("invalid events created %d conversations", r.Len())
	}
}

func TestConversationCanPostRefusesNonMembersAndUsesCreator(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplySenderOnly, member("alice"), member("bob"))))
	c := r.Get("geosector", "c1")
	cases := []struct {
		user   string
		ok     bool
		reason string
	}{
		{"alice", true, ""}, // the creator, under sender_only
		{"bob", false, events.ReasonReplyNotAllowed},
		{"mallory", false, events.ReasonNotMember},
		{"", false, events.ReasonNotMember},
	}
	for _, tc := range cases {
		ok, reason := c.CanPost(tc.user)
		if ok != tc.ok || reason != tc.reason {
			t.Errorf("CanPost(%q) = %v, %q; want %v, %q", tc.user, ok, reason, tc.ok, tc.reason)
		}
	}
}

func TestCreatorWhoLeftCannotPost(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplySenderOnly, admin("bob"), member("alice"))))
	r.Apply(env(t, "geosector", &events.MemberLeft{ConversationID: "c1", UserID: "alice", RemovedBy: "bob"}))
	if ok, reason := r.Get("geosector", "c1").CanPost("alice"); ok || reason != events.ReasonNotMember {
		t.Fatalf("CanPost(creator who left) = %v, %q; want not_member", ok, reason)
	}
}
