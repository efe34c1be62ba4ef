package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// createdEvents counts the ConversationCreated events the log holds for conv.
func createdEvents(t *testing.T, c *daemontest.Chat, conv string) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := c.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	subj := events.SubjectRoot + ".geosector.conv." + conv + ".conversation.created"
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subj]
}

type created1to1 struct {
	status int
	id     string
	err    error
}

// createOneToOne asks for user's one_to_one with other; safe in goroutines.
func createOneToOne(c *daemontest.Chat, token, other string) created1to1 {
	body, _ := json.Marshal(map[string]any{"type": "one_to_one", "participantIds": []string{other}})
	req, err := http.NewRequest("POST", "http://"+c.HTTPAddr()+"/api/chat/conversations", bytes.NewReader(body))
	if err != nil {
		return created1to1{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return created1to1{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil {
		return created1to1{status: resp.StatusCode, err: fmt.Errorf("%w: %s", err, b)}
	}
	return created1to1{status: resp.StatusCode, id: out.ID}
}

// Both users of a pair creating their one_to_one at the same moment get
// the same conversation, one answered 201 and the other 200, and the log
// holds exactly one ConversationCreated.
func TestOneToOneCreatedFromBothSidesAtOnceIsOneConversation(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	for i := range 6 {
		a, b := fmt.Sprint("a", i), fmt.Sprint("b", i)
		var res [2]created1to1
		var wg sync.WaitGroup
		for j, pair := range [][2]string{{a, b}, {b, a}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[j] = createOneToOne(c, c.Token("geosector", pair[0], "member"), pair[1])
			}()
		}
		wg.Wait()
		for _, r := range res {
			if r.err != nil {
				t.Fatal(r.err)
			}
		}
		if res[0].id == "" || res[0].id != res[1].id {
			t.Fatalf("pair %d: two answers name %q and %q", i, res[0].id, res[1].id)
		}
		if s := res[0].status + res[1].status; s != http.StatusOK+http.StatusCreated {
			t.Fatalf("pair %d: answered %d and %d, want one 201 and one 200", i, res[0].status, res[1].status)
		}
		if n := createdEvents(t, c, res[0].id); n != 1 {
			t.Fatalf("pair %d: the log holds %d ConversationCreated", i, n)
		}
	}
}

// Ids are case-sensitive (PROTOCOL §1): "Bob" is not "bob", so alice's
// one_to_one with Bob is another conversation, each created once; nothing
// rewrites an id, and a conversation id in another casing names nothing.
func TestOneToOneWithAnIDInAnotherCasingIsAnotherConversation(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	lower, upper := createOneToOne(c, alice, "bob"), createOneToOne(c, alice, "Bob")
	if lower.err != nil || upper.err != nil || lower.status != http.StatusCreated || upper.status != http.StatusCreated || lower.id == upper.id {
		t.Fatalf("bob: %+v, Bob: %+v; want two conversations created", lower, upper)
	}
	before := c.LastSeq()
	for _, tc := range []struct{ user, other, id string }{{"alice", "bob", lower.id}, {"Bob", "alice", upper.id}, {"bob", "alice", lower.id}} {
		if r := createOneToOne(c, c.Token("geosector", tc.user, "member"), tc.other); r.status != http.StatusOK || r.id != tc.id {
			t.Fatalf("%s with %s again: %+v, want 200 with %s", tc.user, tc.other, r, tc.id)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("creating existing one_to_ones appended %d events", got-before)
	}
	if status, body := c.Do("GET", "/api/chat/conversations/"+strings.ToUpper(lower.id), alice, nil); status != http.StatusNotFound {
		t.Fatalf("conversation id in another casing: %d %s, want 404", status, body)
	}
	if status, body := c.Do("GET", "/api/chat/conversations/"+upper.id, c.Token("geosector", "bob", "member"), nil); status != http.StatusForbidden {
		t.Fatalf("bob reads alice and Bob's conversation: %d %s, want 403", status, body)
	}
}

type convView struct {
	ID, Type, Title, ReplyPermission, Role string
	CanReply, Pinned, Closed               bool
	UnreadCount                            int64
	Settings                               map[string]any
	LastMessage                            *struct{ ID, Content string }
}

func conversationOf(t *testing.T, c *daemontest.Chat, user, conv string) convView {
	t.Helper()
	status, body := c.Do("GET", "/api/chat/conversations/"+conv, c.Token("geosector", user, "member"), nil)
	if status != http.StatusOK {
		t.Fatalf("GET conversation as %s: %d %s", user, status, body)
	}
	return testkit.JSON[convView](t, body)
}

// put sends an admin's PUT and checks its status.
func put(t *testing.T, c *daemontest.Chat, user, path string, body any, want int) []byte {
	t.Helper()
	status, out := c.Do("PUT", "/api/chat/conversations/"+path, c.Token("geosector", user, "member"), body)
	if status != want {
		t.Fatalf("PUT %s as %s: %d %s, want %d", path, user, status, out, want)
	}
	return out
}

// moderated waits for cl's moderation.result of clientMsgID and returns
// "approved" or "rejected/reason".
func moderated(t *testing.T, cl *testkit.Client, clientMsgID string) string {
	t.Helper()
	r := testkit.JSON[struct{ Status, Reason string }](t, cl.WaitType("moderation.result", `"clientMsgId":"`+clientMsgID+`"`).Data)
	if r.Reason != "" {
		return r.Status + "/" + r.Reason
	}
	return r.Status
}

// An admin's changes reach every member as conversation.updated and
// member.updated on their conversations topic, and the same envelopes
// through GET /sync; posting follows the reply permission and the
// participant's override; a closed conversation keeps its history readable
// and refuses sends, edits, deletions and admin actions with code closed.
func TestAdministrationReachesMembersAndClosingFreezesTheConversation(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	carol := connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	cursor := carol.WaitType("conversation.created", conv).Seq
	hello := posted(t, bob, carol, conv, "b1", "hello")

	body := put(t, c, "alice", conv, map[string]any{"title": "Équipe nord", "settings": map[string]any{"color": "#f80", "slow": 5}}, 200)
	if v := testkit.JSON[convView](t, body); v.Title != "Équipe nord" || v.Settings["color"] != "#f80" || v.Role != "admin" {
		t.Fatalf("PUT answered %s", body)
	}
	for _, cl := range []*testkit.Client{alice, bob, carol} {
		got := cl.WaitType("conversation.updated", "Équipe nord")
		if got.Topic != "chat/user/"+cl.User+"/conversations" {
			t.Fatalf("conversation.updated on %s", got.Topic)
		}
	}
	before := c.LastSeq()
	put(t, c, "alice", conv, map[string]any{"title": "Équipe nord"}, 200)
	put(t, c, "alice", conv+"/pin", map[string]any{"pinned": true}, 200)
	put(t, c, "alice", conv+"/pin", map[string]any{"pinned": true}, 200)
	if got := c.LastSeq(); got != before+1 {
		t.Fatalf("a title set again and a pin repeated appended %d events, want 1 (the pin)", got-before)
	}
	carol.WaitType("conversation.updated", `"pinned":true`)

	put(t, c, "alice", conv+"/reply-permission", map[string]any{"replyPermission": "admins_only"}, 200)
	bob.WaitType("conversation.updated", "admins_only")
	send(bob, conv, "b2", "refused by the permission")
	if got := moderated(t, bob, "b2"); got != "rejected/reply_not_allowed" {
		t.Fatalf("bob under admins_only: %s", got)
	}
	if v := conversationOf(t, c, "bob", conv); v.CanReply || v.ReplyPermission != "admins_only" || !v.Pinned {
		t.Fatalf("bob's view under admins_only: %+v", v)
	}
	body = put(t, c, "alice", conv+"/participants/bob", map[string]any{"canReply": true}, 200)
	if p := testkit.JSON[struct {
		UserID, Role     string
		CanReply         bool
		CanReplyOverride *bool
	}](t, body); p.UserID != "bob" || !p.CanReply || p.CanReplyOverride == nil || !*p.CanReplyOverride {
		t.Fatalf("participant after the override: %s", body)
	}
	carol.WaitType("member.updated", `"canReply":true`)
	posted(t, bob, carol, conv, "b3", "allowed by the override")
	put(t, c, "alice", conv+"/participants/bob", map[string]any{"canReply": nil, "role": "read_only"}, 200)
	carol.WaitType("member.updated", `"role":"read_only"`)
	send(bob, conv, "b4", "read_only again")
	if got := moderated(t, bob, "b4"); got != "rejected/reply_not_allowed" {
		t.Fatalf("bob read_only without override: %s", got)
	}
	put(t, c, "alice", conv+"/participants/bob", map[string]any{"role": "member"}, 200)
	put(t, c, "alice", conv+"/reply-permission", map[string]any{"replyPermission": "all"}, 200)
	mine := posted(t, bob, carol, conv, "b5", "before closing")

	// Closing: only admins; then history stays, changes are refused.
	if status, body := c.Do("DELETE", "/api/chat/conversations/"+conv, c.Token("geosector", "bob", "member"), nil); status != http.StatusForbidden {
		t.Fatalf("bob closes: %d %s, want 403", status, body)
	}
	if status, body := c.Do("DELETE", "/api/chat/conversations/"+conv, c.Token("geosector", "alice", "member"), nil); status != http.StatusNoContent {
		t.Fatalf("alice closes: %d %s, want 204", status, body)
	}
	last := carol.WaitType("conversation.updated", `"closed":true`).Seq
	before = c.LastSeq()
	if status, _ := c.Do("DELETE", "/api/chat/conversations/"+conv, c.Token("geosector", "alice", "member"), nil); status != http.StatusNoContent {
		t.Fatalf("closing again: %d, want 204", status)
	}
	send(bob, conv, "b6", "after closing")
	if got := moderated(t, bob, "b6"); got != "rejected/closed" {
		t.Fatalf("send to a closed conversation: %s", got)
	}
	edit(bob, "e1", mine, "edited after closing")
	refused(t, bob, "edit", "e1", "closed")
	del(alice, "d1", hello)
	refused(t, alice, "delete", "d1", "closed")
	for path, body := range map[string]any{
		conv:                       map[string]any{"title": "x"},
		conv + "/pin":              map[string]any{"pinned": false},
		conv + "/reply-permission": map[string]any{"replyPermission": "none"},
		conv + "/participants/bob": map[string]any{"role": "admin"},
	} {
		if out := put(t, c, "alice", path, body, http.StatusConflict); !contains(out, `"code":"closed"`) {
			t.Fatalf("PUT %s on a closed conversation: %s", path, out)
		}
	}
	if got := c.LastSeq(); got != before+2 { // bob's send and its rejection
		t.Fatalf("a closed conversation took %d events, want only the refused send and its rejection", got-before)
	}
	if v := conversationOf(t, c, "carol", conv); !v.Closed || v.CanReply {
		t.Fatalf("carol's view of the closed conversation: %+v", v)
	}
	if status, body := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("geosector", "carol", "member"), nil); status != http.StatusOK ||
		!contains(body, "before closing") {
		t.Fatalf("history of a closed conversation: %d %s", status, body)
	}

	// carol, offline from the start, gets the same envelopes through sync.
	synced := syncFrom(t, c, "carol", cursor, last, 4)
	sameEnvelopes(t, synced, online(carol, cursor), nil)
	types := map[string]bool{}
	for _, e := range synced {
		types[testkit.JSON[struct{ Type string }](t, e).Type] = true
	}
	if !types["conversation.updated"] || !types["member.updated"] {
		t.Fatalf("carol's sync has %v", types)
	}
}

// Every admin action, by a member, a read_only member and a non-member of
// the conversation, by an admin of another application's conversation
// and on unknown ids: the contract's codes, nothing appended.
func TestNonAdminsAndForeignIDsGetEveryAdminActionRefused(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	conv := group(t, c, "alice", "bob", "rita")
	put(t, c, "alice", conv+"/participants/rita", map[string]any{"role": "read_only"}, 200)
	status, body := c.Do("POST", "/api/chat/conversations", c.Token("resalice", "alice", "member"),
		map[string]any{"type": "group", "participantIds": []string{"bob"}})
	if status != http.StatusCreated {
		t.Fatalf("resalice group: %d %s", status, body)
	}
	foreign := testkit.JSON[struct{ ID string }](t, body).ID
	before := c.LastSeq()
	actions := []struct {
		method, path string
		body         any
	}{
		{"PUT", "%s", map[string]any{"title": "taken over"}},
		{"PUT", "%s/pin", map[string]any{"pinned": true}},
		{"PUT", "%s/reply-permission", map[string]any{"replyPermission": "none"}},
		{"PUT", "%s/participants/bob", map[string]any{"role": "admin"}},
		{"PUT", "%s/participants/alice", map[string]any{"canReply": false}},
		{"POST", "%s/participants", map[string]any{"userId": "mallory"}},
		{"DELETE", "%s/participants/alice", nil},
		{"DELETE", "%s", nil},
	}
	for _, a := range actions {
		for _, tc := range []struct {
			who, user, conv string
			status          int
			code            string
		}{
			{"member", "bob", conv, 403, "forbidden"},
			{"read_only", "rita", conv, 403, "forbidden"},
			{"non-member", "mallory", conv, 403, "not_member"},
			{"unknown id", "alice", "nosuchconversation", 404, "not_found"},
			{"another application's conversation", "alice", foreign, 404, "not_found"},
		} {
			path := "/api/chat/conversations/" + fmt.Sprintf(a.path, tc.conv)
			status, body := c.Do(a.method, path, c.Token("geosector", tc.user, "member"), a.body)
			if status != tc.status || !contains(body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s %s by %s: %d %s, want %d %s", a.method, a.path, tc.who, status, body, tc.status, tc.code)
			}
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused admin actions appended %d events", got-before)
	}
}

// Malformed, oversized and duplicated input to the new endpoints: 4xx with
// the contract's code, nothing appended; the same change twice appends once.
func TestAdministrationEndpointsRefuseBadInput(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	conv := group(t, c, "alice", "bob")
	alice := c.Token("geosector", "alice", "member")
	many := map[string]any{}
	for i := range events.MaxSettings + 1 {
		many[fmt.Sprint("k", i)] = true
	}
	before := c.LastSeq()
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"malformed JSON", conv, []byte(`{"title":`), 400, "invalid_payload"},
		{"duplicate key", conv, []byte(`{"title":"a","title":"b"}`), 400, "invalid_payload"},
		{"key in another case", conv, []byte(`{"Title":"a"}`), 400, "invalid_payload"},
		{"unknown field", conv, map[string]any{"title": "a", "closed": true}, 400, "invalid_payload"},
		{"nothing to change", conv, map[string]any{}, 400, "invalid_payload"},
		{"title not a string", conv, map[string]any{"title": 5}, 400, "invalid_payload"},
		{"title too long", conv, map[string]any{"title": strings.Repeat("é", 101)}, 400, "invalid_payload"},
		{"title with NUL", conv, map[string]any{"title": "a\x00b"}, 400, "invalid_payload"},
		{"settings not an object", conv, map[string]any{"settings": []int{1}}, 400, "invalid_payload"},
		{"too many settings", conv, map[string]any{"settings": many}, 400, "invalid_payload"},
		{"setting key not an id", conv, map[string]any{"settings": map[string]any{"a b": 1}}, 400, "invalid_payload"},
		{"setting value an object", conv, map[string]any{"settings": map[string]any{"a": map[string]any{}}}, 400, "invalid_payload"},
		{"setting value too long", conv, map[string]any{"settings": map[string]any{"a": strings.Repeat("x", 257)}}, 400, "invalid_payload"},
		{"oversized body", conv, []byte(`{"title":"` + strings.Repeat("a", 100<<10) + `"}`), 413, "too_large"},
		{"pin without pinned", conv + "/pin", map[string]any{}, 400, "invalid_payload"},
		{"pin not a boolean", conv + "/pin", map[string]any{"pinned": "yes"}, 400, "invalid_payload"},
		{"unknown reply permission", conv + "/reply-permission", map[string]any{"replyPermission": "anyone"}, 400, "invalid_payload"},
		{"missing reply permission", conv + "/reply-permission", map[string]any{}, 400, "invalid_payload"},
		{"unknown role", conv + "/participants/bob", map[string]any{"role": "owner"}, 400, "invalid_payload"},
		{"canReply not a boolean", conv + "/participants/bob", map[string]any{"canReply": "yes"}, 400, "invalid_payload"},
		{"participant change without change", conv + "/participants/bob", map[string]any{}, 400, "invalid_payload"},
		{"participant id not an id", conv + "/participants/b%20ob", map[string]any{"role": "admin"}, 400, "invalid_payload"},
		{"unknown participant", conv + "/participants/zed", map[string]any{"role": "admin"}, 404, "not_found"},
		{"conversation id not an id", "c%00x/pin", map[string]any{"pinned": true}, 400, "invalid_payload"},
	} {
		status, body := c.Do("PUT", "/api/chat/conversations/"+tc.path, alice, tc.body)
		if status != tc.status || !contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	big := []byte(`{"title":"` + strings.Repeat("a", 100<<10) + `"}`)
	for _, ep := range []struct{ method, path string }{
		{"PUT", conv}, {"PUT", conv + "/pin"}, {"PUT", conv + "/reply-permission"}, {"PUT", conv + "/participants/bob"}, {"DELETE", conv},
	} {
		path := "/api/chat/conversations/" + ep.path
		if status, body := c.Do(ep.method, path, "", map[string]any{"pinned": true}); status != 401 || !contains(body, "unauthenticated") {
			t.Errorf("%s %s without a token: %d %s", ep.method, path, status, body)
		}
		if status, body := c.Do(ep.method, path, c.Token("geosector", "alice", "member")+"x", nil); status != 401 || !contains(body, "unauthenticated") {
			t.Errorf("%s %s with a bad token: %d %s", ep.method, path, status, body)
		}
		if ep.method == "PUT" {
			if status, body := c.Do(ep.method, path, alice, big); status != 413 || !contains(body, "too_large") {
				t.Errorf("%s %s oversized: %d %s", ep.method, path, status, body)
			}
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}
	for range 3 {
		put(t, c, "alice", conv+"/participants/bob", map[string]any{"role": "admin", "canReply": false}, 200)
		put(t, c, "alice", conv, map[string]any{"settings": map[string]any{"a": 1}}, 200)
	}
	if got := c.LastSeq(); got != before+2 {
		t.Fatalf("three identical pairs of changes appended %d events, want 2", got-before)
	}
}

// The last admin of a group cannot leave, or step down, while other
// members stay: 409 conflict saying to make another admin first; once
// another is admin, they leave. maxGroupMembers bounds creation (400) and
// additions (409), saying the limit.
func TestLastAdminNamesAnotherBeforeLeavingAndGroupsStayWithinTheirLimit(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited, func(cfg *config.Config) { cfg.Apps["geosector"].Limits.MaxGroupMembers = 3 })
	conv := group(t, c, "alice", "bob", "carol")
	alice := c.Token("geosector", "alice", "member")
	before := c.LastSeq()
	status, body := c.Do("DELETE", "/api/chat/conversations/"+conv+"/participants/alice", alice, nil)
	if status != http.StatusConflict || !contains(body, `"code":"conflict"`) || !contains(body, "admin first") {
		t.Fatalf("the last admin leaves: %d %s, want 409 conflict saying how", status, body)
	}
	if out := put(t, c, "alice", conv+"/participants/alice", map[string]any{"role": "member"}, 409); !contains(out, "last admin") {
		t.Fatalf("the last admin steps down: %s", out)
	}
	status, body = c.Do("POST", "/api/chat/conversations/"+conv+"/participants", alice, map[string]any{"userId": "dave"})
	if status != http.StatusConflict || !contains(body, "at most 3 members") {
		t.Fatalf("a fourth member: %d %s, want 409 naming the limit", status, body)
	}
	status, body = c.Do("POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "participantIds": []string{"b", "c", "d"}})
	if status != http.StatusBadRequest || !contains(body, "at most 3 members") {
		t.Fatalf("a group of four: %d %s, want 400 naming the limit", status, body)
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refusals appended %d events", got-before)
	}
	put(t, c, "alice", conv+"/participants/bob", map[string]any{"role": "admin"}, 200)
	if status, body := c.Do("DELETE", "/api/chat/conversations/"+conv+"/participants/alice", alice, nil); status != http.StatusNoContent {
		t.Fatalf("alice leaves after naming bob: %d %s", status, body)
	}
	if v := conversationOf(t, c, "bob", conv); v.Role != "admin" {
		t.Fatalf("bob's role: %+v", v)
	}
}

type convList struct {
	Conversations []convView
	HasMore       bool
	NextCursor    string
}

// GET /conversations: pinned first, then by last activity, each with its
// last message, unread count, role and canReply; pages by an opaque cursor
// without repeating or skipping; a cursor it did not give is a 400.
func TestConversationListOrdersPinnedThenActivityAndPages(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	var convs []string
	for i := range 5 {
		convs = append(convs, group(t, c, "alice", "bob"))
		alice.WaitType("conversation.created", convs[i])
	}
	// Activity: c0 oldest, then messages in c3 then c1; c4 is pinned; bob
	// is read_only in c2.
	posted(t, alice, bob, convs[3], "m3", "in three")
	posted(t, alice, bob, convs[1], "m1a", "in one")
	last := posted(t, alice, bob, convs[1], "m1b", "in one again")
	put(t, c, "alice", convs[4]+"/pin", map[string]any{"pinned": true}, 200)
	put(t, c, "alice", convs[2]+"/participants/bob", map[string]any{"role": "read_only"}, 200)
	want := []string{convs[4], convs[1], convs[3], convs[2], convs[0]}

	bobTok := c.Token("geosector", "bob", "member")
	status, body := c.Do("GET", "/api/chat/conversations", bobTok, nil)
	if status != http.StatusOK {
		t.Fatalf("list: %d %s", status, body)
	}
	all := testkit.JSON[convList](t, body)
	var ids []string
	for _, v := range all.Conversations {
		ids = append(ids, v.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) || all.HasMore {
		t.Fatalf("order %v, want %v (hasMore %v)", ids, want, all.HasMore)
	}
	one := all.Conversations[1]
	if one.LastMessage == nil || one.LastMessage.ID != last || one.UnreadCount != 2 || one.Role != "member" || !one.CanReply {
		t.Fatalf("c1 as bob sees it: %+v", one)
	}
	if two := all.Conversations[3]; two.Role != "read_only" || two.CanReply || two.LastMessage != nil || two.UnreadCount != 0 {
		t.Fatalf("c2 as bob sees it: %+v", two)
	}
	if !all.Conversations[0].Pinned {
		t.Fatalf("the pinned conversation is not said to be: %+v", all.Conversations[0])
	}

	var paged []string
	cursor := ""
	for range 10 {
		path := "/api/chat/conversations?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		status, body := c.Do("GET", path, bobTok, nil)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		page := testkit.JSON[convList](t, body)
		for _, v := range page.Conversations {
			paged = append(paged, v.ID)
		}
		if !page.HasMore {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Fatalf("pages gave %v, want %v", paged, want)
	}
	for _, bad := range []string{"x", "MC4xLg", strings.Repeat("A", 200), "MS4tMS5j"} {
		if status, body := c.Do("GET", "/api/chat/conversations?cursor="+bad, bobTok, nil); status != http.StatusBadRequest ||
			!contains(body, "invalid_payload") {
			t.Errorf("cursor %q: %d %s, want 400", bad, status, body)
		}
	}
}

// The permission matrix against a real chatd, smaller than the table test
// of roster.Allowed: for each reply permission, a send by the admin (who
// created the group), a member, a read_only member, a member whose
// override is true and a read_only member whose override is false, each
// decided by moderation as the matrix says, with canReply in each one's
// view saying the same.
func TestReplyPermissionsAndOverridesDecidePostingEndToEnd(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	users := []string{"alice", "bob", "rita", "olga", "rex"}
	clients := map[string]*testkit.Client{}
	for _, u := range users {
		clients[u] = connect(t, c, u)
	}
	conv := group(t, c, "alice", "bob", "rita", "olga", "rex")
	put(t, c, "alice", conv+"/participants/rita", map[string]any{"role": "read_only"}, 200)
	put(t, c, "alice", conv+"/participants/olga", map[string]any{"canReply": true}, 200)
	put(t, c, "alice", conv+"/participants/rex", map[string]any{"role": "read_only", "canReply": false}, 200)
	// Who may post, per permission, in users' order.
	matrix := map[string]string{
		"all":         "YYNYN",
		"admins_only": "YNNYN",
		"sender_only": "YNNYN", // alice created the group
		"none":        "YNNYN", // admins still post: an announcement's author
	}
	n := 0
	for _, perm := range []string{"all", "admins_only", "sender_only", "none"} {
		put(t, c, "alice", conv+"/reply-permission", map[string]any{"replyPermission": perm}, 200)
		for i, u := range users {
			if perm != "all" { // "all" is the permission already: nothing changes
				clients[u].WaitType("conversation.updated", `"replyPermission":"`+perm+`"`)
			}
			want := matrix[perm][i] == 'Y'
			if v := conversationOf(t, c, u, conv); v.CanReply != want {
				t.Errorf("%s under %s: canReply %v, want %v", u, perm, v.CanReply, want)
			}
			n++
			id := fmt.Sprint("p", n)
			send(clients[u], conv, id, "under "+perm)
			got := moderated(t, clients[u], id)
			if want && got != "approved" || !want && got != "rejected/reply_not_allowed" {
				t.Errorf("%s posting under %s: %s", u, perm, got)
			}
		}
	}
}
