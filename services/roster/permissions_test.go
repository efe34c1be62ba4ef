package roster_test

import (
	"fmt"
	"testing"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

var (
	roles   = []events.Role{events.RoleAdmin, events.RoleMember, events.RoleReadOnly}
	perms   = []events.ReplyPermission{events.ReplyAll, events.ReplyAdminsOnly, events.ReplySenderOnly, events.ReplyNone}
	actions = map[roster.Action]string{
		roster.Read: "read", roster.Post: "post", roster.Type: "type", roster.EditOwn: "edit own",
		roster.DeleteOwn: "delete own", roster.DeleteOthers: "delete others'", roster.Administer: "administer",
		roster.Close: "close", roster.Leave: "leave",
	}
)

// postTable is the reply rule of an open conversation: for each role and
// override, "Y" or "N" per reply permission (all, admins_only, sender_only,
// none), for a member who is not the creator, then "/", for the creator.
var postTable = map[events.Role]map[string]string{
	events.RoleAdmin:    {"none": "YYYY/YYYY", "true": "YYYY/YYYY", "false": "NNNN/NNNN"},
	events.RoleMember:   {"none": "YNNN/YNYN", "true": "YYYY/YYYY", "false": "NNNN/NNNN"},
	events.RoleReadOnly: {"none": "NNNN/NNNN", "true": "YYYY/YYYY", "false": "NNNN/NNNN"},
}

// otherTable is every other action of a member, by role (admin, member,
// read_only), in an open and in a closed conversation: "Y" allowed, else
// the refusal code. Post, Type and EditOwn follow postTable while open.
var otherTable = map[roster.Action]struct{ open, closed [3]string }{
	roster.Read:         {[3]string{"Y", "Y", "Y"}, [3]string{"Y", "Y", "Y"}},
	roster.Leave:        {[3]string{"Y", "Y", "Y"}, [3]string{"Y", "Y", "Y"}},
	roster.DeleteOwn:    {[3]string{"Y", "Y", "Y"}, [3]string{"closed", "closed", "closed"}},
	roster.DeleteOthers: {[3]string{"Y", "forbidden", "forbidden"}, [3]string{"closed", "closed", "closed"}},
	roster.Administer:   {[3]string{"Y", "forbidden", "forbidden"}, [3]string{"closed", "closed", "closed"}},
	roster.Close:        {[3]string{"Y", "forbidden", "forbidden"}, [3]string{"Y", "forbidden", "forbidden"}},
	roster.Post:         {closed: [3]string{"closed", "closed", "closed"}},
	roster.Type:         {closed: [3]string{"closed", "closed", "closed"}},
	roster.EditOwn:      {closed: [3]string{"closed", "closed", "closed"}},
}

// TestPermissionMatrix checks every cell of role (and non-member) × reply
// permission × canReply override × creator × closed × action against the
// tables above.
func TestPermissionMatrix(t *testing.T) {
	overrides := map[string]*bool{"none": nil, "true": ptr(true), "false": ptr(false)}
	cells := 0
	for _, member := range []bool{true, false} {
		for ri, role := range roles {
			for pi, perm := range perms {
				for oname, override := range overrides {
					for ci, creator := range []bool{false, true} {
						for _, closed := range []bool{false, true} {
							for a, name := range actions {
								s := roster.Standing{Member: member, Role: role, Creator: creator, CanReply: override, Perm: perm, Closed: closed}
								want := expected(member, ri, role, pi, oname, ci, closed, a)
								ok, code := roster.Allowed(a, s)
								got := code
								if ok {
									got = "Y"
									if code != "" {
										t.Errorf("%s allowed with code %q", name, code)
									}
								}
								if got != want {
									t.Errorf("%s by %+v = %q, want %q", name, s, got, want)
								}
								cells++
							}
						}
					}
				}
			}
		}
	}
	if want := 2 * len(roles) * len(perms) * len(overrides) * 2 * 2 * len(actions); cells != want {
		t.Fatalf("checked %d cells, want %d", cells, want)
	}
}

func expected(member bool, ri int, role events.Role, pi int, override string, ci int, closed bool, a roster.Action) string {
	if !member {
		return events.ReasonNotMember
	}
	cell := otherTable[a]
	if closed {
		return cell.closed[ri]
	}
	if a == roster.Post || a == roster.Type || a == roster.EditOwn {
		row := postTable[role][override]
		if row[ci*5+pi] == 'Y' {
			return "Y"
		}
		return events.ReasonReplyNotAllowed
	}
	return cell.open[ri]
}

func ptr(b bool) *bool { return &b }

// The roster folds the events that change a standing: the reply
// permission and closing (ConversationUpdated), role and override
// (ParticipantUpdated); leaving drops the override.
func TestStandingFollowsAdministrationEvents(t *testing.T) {
	r := roster.New()
	r.Apply(env(t, "geosector", created("c1", events.ReplyAll, admin("alice"), member("bob"), member("carol"))))
	c := r.Get("geosector", "c1")
	can := func(user string, a roster.Action) string {
		ok, code := c.Can(user, a)
		if ok {
			return "Y"
		}
		return code
	}
	steps := []struct {
		p    events.Payload
		user string
		a    roster.Action
		want string
	}{
		{nil, "bob", roster.Post, "Y"},
		{updated("c1", events.ReplyAdminsOnly, false), "bob", roster.Post, events.ReasonReplyNotAllowed},
		{&events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleMember, CanReply: ptr(true), UpdatedBy: "alice"},
			"bob", roster.Post, "Y"},
		{&events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleReadOnly, CanReply: nil, UpdatedBy: "alice"},
			"bob", roster.Post, events.ReasonReplyNotAllowed},
		{&events.ParticipantUpdated{ConversationID: "c1", UserID: "carol", Role: events.RoleAdmin, CanReply: ptr(false), UpdatedBy: "alice"},
			"carol", roster.Administer, "Y"},
		{nil, "carol", roster.Post, events.ReasonReplyNotAllowed},
		{&events.MemberLeft{ConversationID: "c1", UserID: "carol", RemovedBy: "carol"}, "carol", roster.Post, events.ReasonNotMember},
		{&events.MemberJoined{ConversationID: "c1", UserID: "carol", Role: events.RoleMember, AddedBy: "alice"}, "carol", roster.Post,
			events.ReasonReplyNotAllowed}, // admins_only, and the old override went with her
		{updated("c1", events.ReplyAll, true), "carol", roster.Post, roster.CodeClosed},
		{nil, "carol", roster.Read, "Y"},
		// A later update cannot reopen it.
		{updated("c1", events.ReplyAll, false), "alice", roster.Administer, roster.CodeClosed},
		// An update of a non-member changes nothing.
		{&events.ParticipantUpdated{ConversationID: "c1", UserID: "zoe", Role: events.RoleAdmin, UpdatedBy: "alice"}, "zoe", roster.Read,
			events.ReasonNotMember},
	}
	for i, s := range steps {
		if s.p != nil {
			if err := r.Apply(env(t, "geosector", s.p)); err != nil {
				t.Fatal(err)
			}
		}
		if got := can(s.user, s.a); got != s.want {
			t.Fatalf("step %d: %s %s = %q, want %q", i, s.user, actions[s.a], got, s.want)
		}
	}
	if c.IsMember("zoe") {
		t.Fatal("an update made a non-member a member")
	}
}

func updated(conv string, perm events.ReplyPermission, closed bool) *events.ConversationUpdated {
	return &events.ConversationUpdated{ConversationID: conv, Kind: events.KindGroup, ReplyPermission: perm, Closed: closed,
		CreatedBy: "alice", UpdatedBy: "alice"}
}

func ExampleAllowed() {
	ok, code := roster.Allowed(roster.Post, roster.Standing{Member: true, Role: events.RoleReadOnly, Perm: events.ReplyAll})
	fmt.Println(ok, code)
	// Output: false reply_not_allowed
}
