package daemon_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// team creates a group (team) as admin, adds members, and returns its id.
func team(t *testing.T, c *daemontest.Chat, admin string, members ...string) string {
	t.Helper()
	tok := c.Token("geosector", admin, "member")
	status, body := c.Do("POST", "/api/chat/groups", tok, map[string]string{"name": "team of " + admin})
	if status != http.StatusCreated {
		t.Fatalf("create group: %d %s", status, body)
	}
	id := testkit.JSON[struct{ ID string }](t, body).ID
	for _, m := range members {
		if status, body := c.Do("POST", "/api/chat/groups/"+id+"/members", tok, map[string]string{"userId": m}); status != http.StatusOK {
			t.Fatalf("add %s: %d %s", m, status, body)
		}
	}
	return id
}

type groupDetails struct {
	ID, Name, Role string
	MemberCount    int
	Members        []struct{ UserID, Role string }
	Conversations  []struct {
		ID     string
		Joined bool
	}
}

func groupOf(t *testing.T, c *daemontest.Chat, id, user string) groupDetails {
	t.Helper()
	status, body := c.Do("GET", "/api/chat/groups/"+id, c.Token("geosector", user, "member"), nil)
	if status != http.StatusOK {
		t.Fatalf("GET group as %s: %d %s", user, status, body)
	}
	return testkit.JSON[groupDetails](t, body)
}

// fenced returns once cl holds everything fan-out sent it so far: fan-out is
// past the log's last event and a refusal asked for now comes after its
// deliveries.
func fenced(t *testing.T, c *daemontest.Chat, cl *testkit.Client, conv, id string) {
	t.Helper()
	fanoutPassed(t, c, c.LastSeq())
	send(cl, conv, id, " ") // blank: refused, never appended
	refused(t, cl, "send", id, "invalid_payload")
}

func TestGroupLifeReachesItsMembersOnlyWhileTheyAreMembers(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	admin, bobTok, carolTok := c.Token("geosector", "alice", "member"), c.Token("geosector", "bob", "member"), c.Token("geosector", "carol", "member")
	g := team(t, c, "alice")
	alice.WaitType("group.created", `"groupId":"`+g+`"`)

	// bob asks, alice is told and accepts; carol asks and is refused.
	for _, tok := range []string{bobTok, carolTok} {
		if status, body := c.Do("POST", "/api/chat/groups/"+g+"/join-requests", tok, nil); status != http.StatusCreated {
			t.Fatalf("join request: %d %s", status, body)
		}
	}
	alice.WaitType("notification.new", `"type":"join_requested","groupId":"`+g+`","name":"team of alice","userId":"carol"`)
	status, body := c.Do("GET", "/api/chat/groups/"+g+"/join-requests", admin, nil)
	if status != http.StatusOK || !contains(body, `"userId":"bob"`) || !contains(body, `"userId":"carol"`) {
		t.Fatalf("join requests: %d %s", status, body)
	}
	if status, body := c.Do("POST", "/api/chat/groups/"+g+"/members", admin, map[string]string{"userId": "bob"}); status != http.StatusOK {
		t.Fatalf("accept bob: %d %s", status, body)
	}
	bob.WaitType("group.member_joined", `"userId":"bob","role":"member","by":"alice"`)
	bob.WaitType("notification.new", `"type":"join_accepted","groupId":"`+g+`"`)
	alice.WaitType("group.member_joined", `"userId":"bob"`)
	if status, body := c.Do("DELETE", "/api/chat/groups/"+g+"/join-requests/carol", admin, nil); status != http.StatusNoContent {
		t.Fatalf("refuse carol: %d %s", status, body)
	}
	carol.WaitType("notification.new", `"type":"join_refused","groupId":"`+g+`"`)

	d := groupOf(t, c, g, "bob")
	if d.Role != "member" || d.MemberCount != 2 || len(d.Members) != 2 || d.Members[0].UserID != "alice" || d.Members[0].Role != "admin" {
		t.Fatalf("bob sees %+v", d)
	}
	status, body = c.Do("GET", "/api/chat/groups", bobTok, nil)
	if status != http.StatusOK || !contains(body, `"id":"`+g+`"`) || !contains(body, `"hasMore":false`) {
		t.Fatalf("bob's groups: %d %s", status, body)
	}

	if status, body := c.Do("PUT", "/api/chat/groups/"+g, admin, map[string]string{"name": "Équipe nord"}); status != http.StatusOK {
		t.Fatalf("rename: %d %s", status, body)
	}
	bob.WaitType("group.updated", "Équipe nord")

	// bob leaves: he hears of it, then of nothing until he is back.
	if status, body := c.Do("DELETE", "/api/chat/groups/"+g+"/members/bob", bobTok, nil); status != http.StatusNoContent {
		t.Fatalf("bob leaves: %d %s", status, body)
	}
	bob.WaitType("group.member_left", `"userId":"bob","by":"bob"`)
	if status, body := c.Do("PUT", "/api/chat/groups/"+g, admin, map[string]string{"name": "while bob is away"}); status != http.StatusOK {
		t.Fatalf("rename: %d %s", status, body)
	}
	alice.WaitType("group.updated", "while bob is away")
	if status, body := c.Do("POST", "/api/chat/groups/"+g+"/members", admin, map[string]string{"userId": "bob"}); status != http.StatusOK {
		t.Fatalf("add bob again: %d %s", status, body)
	}
	// The same group's later event is the marker: fan-out routes a
	// group's events in order.
	back := bob.WaitType("notification.new", `"type":"added_to_group"`).Seq
	for _, r := range bob.Received() {
		if r.Type == "group.updated" && strings.Contains(string(r.Data), "while bob is away") {
			t.Fatalf("bob, away from the group, received %s %s", r.Type, r.Data)
		}
	}
	if n := countOf(carol, "group.updated", g) + countOf(carol, "group.member_joined", g); n != 0 {
		t.Fatalf("carol, refused, got %d group events", n)
	}
	if status, _ := c.Do("GET", "/api/chat/groups/"+g, carolTok, nil); status != http.StatusForbidden {
		t.Fatalf("carol reads the group: %d", status)
	}

	// What bob received live is what sync gives him, in the same order.
	sameEnvelopes(t, syncFrom(t, c, "bob", 0, back, 4), online(bob, 0), nil)
}

func TestGroupCommandsRefuseBadInputAndAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := c.Token("geosector", "alice", "member"), c.Token("geosector", "bob", "member"), c.Token("geosector", "carol", "member")
	g := team(t, c, "alice", "bob")
	conv := group(t, c, "carol", "dave")
	before := c.LastSeq()
	base := "/api/chat/groups/" + g
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "POST", "/api/chat/groups", "", map[string]string{"name": "x"}, 401, "unauthenticated"},
		{"empty name", "POST", "/api/chat/groups", alice, map[string]string{"name": "  "}, 400, "invalid_payload"},
		{"name too long", "POST", "/api/chat/groups", alice, map[string]string{"name": strings.Repeat("n", 201)}, 400, "invalid_payload"},
		{"NUL in name", "POST", "/api/chat/groups", alice, map[string]string{"name": "a\u0000b"}, 400, "invalid_payload"},
		{"name of the wrong type", "POST", "/api/chat/groups", alice, map[string]any{"name": 5}, 400, "invalid_payload"},
		{"unknown field", "POST", "/api/chat/groups", alice, map[string]any{"name": "x", "admins": []string{"bob"}}, 400, "invalid_payload"},
		{"malformed JSON", "POST", "/api/chat/groups", alice, []byte(`{"name":`), 400, "invalid_payload"},
		{"oversized body", "POST", "/api/chat/groups", alice, []byte(`{"name":"` + strings.Repeat("a", 100<<10) + `"}`), 413, "too_large"},
		{"bad id in the path", "GET", "/api/chat/groups/a.b", alice, nil, 400, "invalid_payload"},
		{"unknown group", "GET", "/api/chat/groups/nope", alice, nil, 404, "not_found"},
		{"another app's group", "GET", base, c.Token("resalice", "alice", "member"), nil, 404, "not_found"},
		{"another app's group, join", "POST", base + "/join-requests", c.Token("resalice", "carol", "member"), nil, 404, "not_found"},
		{"non-member reads", "GET", base, carol, nil, 403, "not_member"},
		{"member lists requests", "GET", base + "/join-requests", bob, nil, 403, "forbidden"},
		{"member renames", "PUT", base, bob, map[string]string{"name": "mine"}, 403, "forbidden"},
		{"member adds", "POST", base + "/members", bob, map[string]string{"userId": "carol"}, 403, "forbidden"},
		{"non-member adds", "POST", base + "/members", carol, map[string]string{"userId": "carol"}, 403, "not_member"},
		{"member removes another", "DELETE", base + "/members/alice", bob, nil, 403, "forbidden"},
		{"member refuses", "DELETE", base + "/join-requests/carol", bob, nil, 403, "forbidden"},
		{"refuse no request", "DELETE", base + "/join-requests/carol", alice, nil, 404, "not_found"},
		{"remove a non-member", "DELETE", base + "/members/zed", alice, nil, 404, "not_found"},
		{"join request from a member", "POST", base + "/join-requests", bob, nil, 409, "conflict"},
		{"last admin leaves", "DELETE", base + "/members/alice", alice, nil, 409, "conflict"},
		{"last admin steps down", "POST", base + "/members", alice, map[string]string{"userId": "alice", "role": "member"}, 409, "conflict"},
		{"unknown role", "POST", base + "/members", alice, map[string]string{"userId": "carol", "role": "read_only"}, 400, "invalid_payload"},
		{"bad user id", "POST", base + "/members", alice, map[string]string{"userId": "carol smith"}, 400, "invalid_payload"},
		{"missing user id", "POST", base + "/members", alice, map[string]string{}, 400, "invalid_payload"},
		{"add to an unknown group", "POST", "/api/chat/groups/nope/members", alice, map[string]string{"userId": "carol"}, 404, "not_found"},
		{"bad cursor", "GET", "/api/chat/groups?after=a.b", alice, nil, 400, "invalid_payload"},
		{"bad limit", "GET", "/api/chat/groups?limit=0", alice, nil, 400, "invalid_payload"},
		{"conversation in a group of others", "POST", "/api/chat/conversations", carol, map[string]any{"type": "group", "groupId": g, "participantIds": []string{}}, 403, "not_member"},
		{"conversation in an unknown group", "POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "groupId": "nope", "participantIds": []string{}}, 404, "not_found"},
		{"conversation with an outsider", "POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "groupId": g, "participantIds": []string{"carol"}}, 400, "invalid_payload"},
		{"one_to_one in a group", "POST", "/api/chat/conversations", alice, map[string]any{"type": "one_to_one", "groupId": g, "participantIds": []string{"bob"}}, 400, "invalid_payload"},
		{"bad group id", "POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "groupId": "a/b", "participantIds": []string{}}, 400, "invalid_payload"},
		{"join a conversation of no group", "POST", base + "/conversations/" + conv + "/join", bob, nil, 404, "not_found"},
		{"non-member joins a conversation", "POST", base + "/conversations/" + conv + "/join", carol, nil, 403, "not_member"},
		{"bad conversation id", "POST", base + "/conversations/a.b/join", bob, nil, 400, "invalid_payload"},
	}
	for _, tc := range cases {
		status, body := c.Do(tc.method, tc.path, tc.token, tc.body)
		if status != tc.status || !contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}

	// Repeats change nothing: a pending request asked again, a member
	// added again with the same role, a creation retried with its key.
	if status, body := c.Do("POST", base+"/join-requests", carol, nil); status != http.StatusCreated {
		t.Fatalf("carol asks: %d %s", status, body)
	}
	asked := c.LastSeq()
	if status, body := c.Do("POST", base+"/join-requests", carol, nil); status != http.StatusOK {
		t.Fatalf("carol asks again: %d %s", status, body)
	}
	if status, body := c.Do("POST", base+"/members", alice, map[string]string{"userId": "bob"}); status != http.StatusOK {
		t.Fatalf("bob added again: %d %s", status, body)
	}
	first := createWithKey(t, c, alice, "k-1", http.StatusCreated)
	created := c.LastSeq()
	if again := createWithKey(t, c, alice, "k-1", http.StatusOK); again != first {
		t.Fatalf("the retried creation made group %s, then %s", first, again)
	}
	if created != asked+1 || c.LastSeq() != created {
		t.Fatalf("repeats appended: %d after the request, %d after the creation, %d now", asked, created, c.LastSeq())
	}
}

// createWithKey creates a group with an Idempotency-Key and checks the status.
func createWithKey(t *testing.T, c *daemontest.Chat, token, key string, want int) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": "keyed"})
	req, _ := http.NewRequest("POST", "http://"+c.HTTPAddr()+"/api/chat/groups", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("create with key %s: %d %s, want %d", key, resp.StatusCode, body, want)
	}
	return testkit.JSON[struct{ ID string }](t, body).ID
}

func TestGroupMembersSeeAndJoinItsConversationsWhileMembers(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := c.Token("geosector", "alice", "member"), c.Token("geosector", "bob", "member")
	bobCl := connect(t, c, "bob")
	g := team(t, c, "alice", "bob", "carol")
	status, body := c.Do("POST", "/api/chat/conversations", alice,
		map[string]any{"type": "group", "title": "planning", "groupId": g, "participantIds": []string{"carol"}})
	if status != http.StatusCreated {
		t.Fatalf("create in group: %d %s", status, body)
	}
	conv := testkit.JSON[struct{ ID string }](t, body).ID
	d := groupOf(t, c, g, "bob")
	if len(d.Conversations) != 1 || d.Conversations[0].ID != conv || d.Conversations[0].Joined {
		t.Fatalf("bob sees the group's conversations as %+v", d.Conversations)
	}

	path := "/api/chat/groups/" + g + "/conversations/" + conv + "/join"
	if status, body := c.Do("POST", path, bob, nil); status != http.StatusOK || !contains(body, `"id":"`+conv+`"`) {
		t.Fatalf("bob joins: %d %s", status, body)
	}
	bobCl.WaitType("member.joined", `"userId":"bob"`)
	joined := c.LastSeq()
	if status, body := c.Do("POST", path, bob, nil); status != http.StatusOK || c.LastSeq() != joined {
		t.Fatalf("bob joins again: %d %s, log %d → %d", status, body, joined, c.LastSeq())
	}
	if d := groupOf(t, c, g, "bob"); !d.Conversations[0].Joined {
		t.Fatalf("bob's join not shown: %+v", d.Conversations)
	}

	// Removed from the group, dave may no longer join its conversations.
	if status, body := c.Do("POST", "/api/chat/groups/"+g+"/members", alice, map[string]string{"userId": "dave"}); status != http.StatusOK {
		t.Fatalf("add dave: %d %s", status, body)
	}
	if status, body := c.Do("DELETE", "/api/chat/groups/"+g+"/members/dave", alice, nil); status != http.StatusNoContent {
		t.Fatalf("remove dave: %d %s", status, body)
	}
	before := c.LastSeq()
	if status, body := c.Do("POST", path, c.Token("geosector", "dave", "member"), nil); status != http.StatusForbidden || !contains(body, "not_member") {
		t.Fatalf("dave, removed, joins: %d %s", status, body)
	}
	if c.LastSeq() != before {
		t.Fatal("the refused join appended")
	}
}

func TestGroupPresenceStopsAtRemoval(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	fence := group(t, c, "zed", "yan")
	g := team(t, c, "alice", "bob")
	fanoutPassed(t, c, c.LastSeq())
	presence(bob, "away")
	alice.WaitType("presence.update", `"userId":"bob","status":"away"`)
	presence(alice, "away")
	bob.WaitType("presence.update", `"userId":"alice","status":"away"`)

	// Connecting said online before the group existed: what came of it
	// is counted out.
	aliceOnline, bobOnline := countOf(alice, "presence.update", `"status":"online"`), countOf(bob, "presence.update", `"status":"online"`)
	if status, body := c.Do("DELETE", "/api/chat/groups/"+g+"/members/bob", c.Token("geosector", "alice", "member"), nil); status != http.StatusNoContent {
		t.Fatalf("remove bob: %d %s", status, body)
	}
	fanoutPassed(t, c, c.LastSeq())
	presence(bob, "online")
	presence(alice, "online")
	// The relay routes one signal after another: refusals of later focus
	// commands are the markers.
	liveBarrier(t, bob, fence)
	liveBarrier(t, alice, fence)
	if n := countOf(alice, "presence.update", `"status":"online"`) - aliceOnline; n != 0 {
		t.Fatalf("alice got bob's presence %d times after his removal", n)
	}
	if n := countOf(bob, "presence.update", `"status":"online"`) - bobOnline; n != 0 {
		t.Fatalf("bob got alice's presence %d times after his removal", n)
	}
}

func TestGroupListPagesByID(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	made := map[string]bool{team(t, c, "alice"): true, team(t, c, "alice"): true, team(t, c, "alice"): true}
	team(t, c, "bob") // not alice's
	type page struct {
		Groups  []struct{ ID, Role string }
		HasMore bool
		Next    string
	}
	seen := map[string]bool{}
	path := "/api/chat/groups?limit=2"
	for range 3 {
		status, body := c.Do("GET", path, alice, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		p := testkit.JSON[page](t, body)
		for _, g := range p.Groups {
			if !made[g.ID] || seen[g.ID] || g.Role != "admin" {
				t.Fatalf("page of %s: %+v", path, p)
			}
			seen[g.ID] = true
		}
		if !p.HasMore {
			break
		}
		path = "/api/chat/groups?limit=2&after=" + p.Next
	}
	if len(seen) != len(made) {
		t.Fatalf("the pages held %d of alice's %d groups", len(seen), len(made))
	}
}
