package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// geosector's directory for these tests: a super admin, two entities with
// an admin and members each, an inactive member.
var geoUsers = []map[string]any{
	{"id": "boss", "entity": "", "role": "super_admin"},
	{"id": "adm5", "entity": "5", "role": "admin", "name": "Admin Cinq"},
	{"id": "ann5", "entity": "5", "role": "member"},
	{"id": "bob5", "entity": "5", "role": "member"},
	{"id": "old5", "entity": "5", "role": "member", "active": false},
	{"id": "adm6", "entity": "6", "role": "admin"},
	{"id": "cat6", "entity": "6", "role": "member"},
}

// tokenOf mints a geosector token with an entity claim.
func tokenOf(t *testing.T, c *daemontest.Chat, app, user, role, entity string) string {
	t.Helper()
	tok, err := auth.Mint(c.Cfg.JWTSecret, app, user, role, entity, "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func service(t *testing.T, c *daemontest.Chat) string {
	return tokenOf(t, c, "geosector", "hostapp", auth.RoleService, "")
}

func writeDirectory(t *testing.T, c *daemontest.Chat, users []map[string]any) {
	t.Helper()
	if status, body := c.Do("POST", "/api/chat/directory/users:batch", service(t, c), map[string]any{"users": users}); status != http.StatusOK {
		t.Fatalf("directory batch: %d %s", status, body)
	}
}

type announced struct {
	AnnouncementID, ConversationID, MessageID, Title, Content, From, ReplyPermission string
	Pinned                                                                           bool
	ExpiresAt                                                                        *time.Time
	Recipients                                                                       int
	Seq                                                                              uint64
}

func announce(t *testing.T, c *daemontest.Chat, token string, body map[string]any) announced {
	t.Helper()
	status, out := c.Do("POST", "/api/chat/announcements", token, body)
	if status != http.StatusCreated {
		t.Fatalf("announce: %d %s", status, out)
	}
	return testkit.JSON[announced](t, out)
}

type stats struct {
	Recipients, Read, Unread int
	Readers                  []struct {
		UserID string
		ReadAt time.Time
	}
	UnreadUsers []string
	HasMore     bool
	Next        string
}

func statsOf(t *testing.T, c *daemontest.Chat, token, id, query string) stats {
	t.Helper()
	status, body := c.Do("GET", "/api/chat/announcements/"+id+"/stats"+query, token, nil)
	if status != http.StatusOK {
		t.Fatalf("stats: %d %s", status, body)
	}
	return testkit.JSON[stats](t, body)
}

func listed(t *testing.T, c *daemontest.Chat, token string) []string {
	t.Helper()
	status, body := c.Do("GET", "/api/chat/announcements", token, nil)
	if status != http.StatusOK {
		t.Fatalf("list announcements: %d %s", status, body)
	}
	var ids []string
	for _, a := range testkit.JSON[struct{ Announcements []announced }](t, body).Announcements {
		ids = append(ids, a.AnnouncementID)
	}
	return ids
}

// nothingMore returns once each client holds whatever fan-out sent it for
// the log so far (fan-out is past its end, and a refusal each client asks
// for now comes after), then checks none of them got typ.
func nothingMore(t *testing.T, c *daemontest.Chat, typ string, clients ...*testkit.Client) {
	t.Helper()
	fanoutPassed(t, c, c.LastSeq())
	for _, cl := range clients {
		id := fmt.Sprintf("fence-%d", time.Now().UnixNano())
		send(cl, "fence", id, " ") // blank content: refused, never appended
		refused(t, cl, "send", id, "invalid_payload")
		if got := cl.Of(typ); len(got) > 0 {
			t.Errorf("%s received %d %s it was not in the audience of: %s", cl.User, len(got), typ, got[0].Data)
		}
	}
}

func TestAnnouncementReachesExactlyItsAudienceAndALaterDirectoryChangeLeavesItAlone(t *testing.T) {
	c := daemontest.Chatd(t)
	writeDirectory(t, c, geoUsers)
	cl := map[string]*testkit.Client{}
	for _, u := range []string{"adm5", "ann5", "bob5", "old5", "adm6", "cat6", "new5"} {
		cl[u] = connect(t, c, u)
	}
	adm5 := tokenOf(t, c, "geosector", "adm5", "admin", "5")
	a := announce(t, c, adm5, map[string]any{"title": "Réunion", "content": "Demain 9h",
		"targets": []map[string]string{{"entity": "5", "role": "all"}}})
	if a.Recipients != 2 || a.ReplyPermission != "none" || a.From != "adm5" {
		t.Fatalf("announcement: %+v", a)
	}
	var live []byte
	for _, u := range []string{"ann5", "bob5"} {
		got := cl[u].WaitType("announcement.new", `"title":"Réunion"`)
		d := testkit.JSON[announced](t, got.Data)
		if got.Topic != "chat/user/"+u+"/announcements" || d.AnnouncementID != a.AnnouncementID || d.MessageID != a.MessageID ||
			d.Content != "Demain 9h" || d.From != "adm5" || got.Seq != a.Seq {
			t.Fatalf("%s got %s %s", u, got.Topic, got.Data)
		}
		live = got.Payload
	}
	// A user the directory adds to entity 5 afterwards is not in it.
	if status, body := c.Do("PUT", "/api/chat/directory/users/new5", service(t, c), map[string]any{"entity": "5", "role": "member"}); status != http.StatusOK {
		t.Fatalf("directory put: %d %s", status, body)
	}
	nothingMore(t, c, "announcement.new", cl["adm5"], cl["old5"], cl["adm6"], cl["cat6"], cl["new5"])
	boss := tokenOf(t, c, "geosector", "boss", "super_admin", "")
	if s := statsOf(t, c, boss, a.AnnouncementID, ""); s.Recipients != 2 || !slices.Equal(s.UnreadUsers, []string{"ann5", "bob5"}) {
		t.Fatalf("stats after the directory change: %+v", s)
	}

	// Replies follow the reply permission: none.
	send(cl["ann5"], a.ConversationID, "reply-1", "merci")
	if r := cl["ann5"].WaitType("moderation.result", "reply-1"); !strings.Contains(string(r.Data), `"reason":"reply_not_allowed"`) {
		t.Fatalf("a reply to an announcement: %s", r.Data)
	}

	// Sync gives the delivery the client had live, byte for byte.
	status, body := c.Do("GET", "/api/chat/sync?since=0", c.Token("geosector", "bob5", "member"), nil)
	if status != http.StatusOK || !bytes.Contains(body, bytes.TrimSpace(live)) {
		t.Fatalf("sync of bob5 (%d) lacks %s: %s", status, live, body)
	}
	status, body = c.Do("GET", "/api/chat/sync?since=0", c.Token("geosector", "cat6", "member"), nil)
	if status != http.StatusOK || bytes.Contains(body, []byte("announcement.new")) {
		t.Fatalf("sync of cat6, outside the audience (%d): %s", status, body)
	}

	// The audience joined via its target; the author did not.
	_, body = c.Do("GET", "/api/chat/conversations/"+a.ConversationID+"/participants", adm5, nil)
	via := map[string]bool{}
	for _, p := range testkit.JSON[struct {
		Participants []struct {
			UserID    string
			ViaTarget bool
		}
	}](t, body).Participants {
		via[p.UserID] = p.ViaTarget
	}
	if len(via) != 3 || !via["ann5"] || !via["bob5"] || via["adm5"] {
		t.Fatalf("participants' viaTarget: %v (%s)", via, body)
	}
	// A recipient sees the author and themself, not the rest of the audience.
	_, body = c.Do("GET", "/api/chat/conversations/"+a.ConversationID+"/participants", c.Token("geosector", "ann5", "member"), nil)
	if !bytes.Contains(body, []byte(`"userId":"ann5"`)) || !bytes.Contains(body, []byte(`"userId":"adm5"`)) ||
		bytes.Contains(body, []byte(`"userId":"bob5"`)) {
		t.Fatalf("a recipient's participants: %s", body)
	}

	// Lists: recipients and the author see it, others do not.
	for user, want := range map[string]bool{"ann5": true, "adm5": true, "cat6": false, "new5": false} {
		if got := slices.Contains(listed(t, c, c.Token("geosector", user, "member")), a.AnnouncementID); got != want {
			t.Errorf("%s lists the announcement: %v, want %v", user, got, want)
		}
	}
}

func TestAnnouncementStatsMatchTheReadReceipts(t *testing.T) {
	c := daemontest.Chatd(t)
	writeDirectory(t, c, geoUsers)
	adm5, ann5, bob5 := connect(t, c, "adm5"), connect(t, c, "ann5"), connect(t, c, "bob5")
	token := tokenOf(t, c, "geosector", "adm5", "admin", "5")
	a := announce(t, c, token, map[string]any{"title": "Collecte", "replyPermission": "all",
		"targets": []map[string]string{{"entity": "5", "role": "member"}}})
	ann5.WaitType("announcement.new", "Collecte")
	bob5.WaitType("announcement.new", "Collecte")

	receipt(ann5, "read", a.ConversationID, a.MessageID)
	r := adm5.WaitFor("ann5's read.receipt", func(r testkit.Received) bool {
		return r.Type == "read.receipt" && strings.Contains(string(r.Data), `"userId":"ann5"`)
	})
	readAt := testkit.JSON[struct{ At time.Time }](t, r.Data).At
	s := statsOf(t, c, token, a.AnnouncementID, fmt.Sprintf("?minSeq=%d", r.Seq))
	if s.Recipients != 2 || s.Read != 1 || s.Unread != 1 || len(s.Readers) != 1 || s.Readers[0].UserID != "ann5" ||
		!s.Readers[0].ReadAt.Equal(readAt) || !slices.Equal(s.UnreadUsers, []string{"bob5"}) {
		t.Fatalf("stats %+v, want ann5 read at %s and bob5 unread", s, readAt)
	}
	// Paged by recipient: one a page.
	p1 := statsOf(t, c, token, a.AnnouncementID, "?limit=1")
	p2 := statsOf(t, c, token, a.AnnouncementID, "?limit=1&cursor="+p1.Next)
	if !p1.HasMore || len(p1.Readers) != 1 || p2.HasMore || !slices.Equal(p2.UnreadUsers, []string{"bob5"}) || p2.Read != 1 {
		t.Fatalf("pages %+v then %+v", p1, p2)
	}
	// A reply is allowed here (replyPermission all), and reading it does
	// not count twice.
	send(bob5, a.ConversationID, "reply-2", "lu")
	reply := testkit.JSON[changed](t, adm5.WaitType("message.new", `"content":"lu"`).Data).ID
	receipt(bob5, "read", a.ConversationID, reply)
	r = adm5.WaitFor("bob5's read.receipt", func(r testkit.Received) bool {
		return r.Type == "read.receipt" && strings.Contains(string(r.Data), `"userId":"bob5"`)
	})
	if s := statsOf(t, c, token, a.AnnouncementID, fmt.Sprintf("?minSeq=%d", r.Seq)); s.Read != 2 || s.Unread != 0 || len(s.UnreadUsers) != 0 {
		t.Fatalf("after bob5 read past it: %+v", s)
	}
}

func TestAnnouncementsArePinnedFirstAndExpiredOnesGone(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	writeDirectory(t, c, geoUsers)
	boss := tokenOf(t, c, "geosector", "boss", "super_admin", "")
	adm5 := tokenOf(t, c, "geosector", "adm5", "admin", "5")
	older := announce(t, c, boss, map[string]any{"title": "Épinglée", "pinned": true,
		"targets": []map[string]string{{"entity": "all", "role": "admin"}}})
	newer := announce(t, c, adm5, map[string]any{"title": "Récente", "targets": []map[string]string{{"entity": "5", "role": "all"}}})
	brief := announce(t, c, adm5, map[string]any{"title": "Brève", "targets": []map[string]string{{"entity": "5", "role": "all"}},
		"expiresAt": time.Now().Add(2 * time.Second)})
	reader := c.Token("geosector", "ann5", "member")
	if got := listed(t, c, reader); !slices.Equal(got, []string{brief.AnnouncementID, newer.AnnouncementID}) {
		t.Fatalf("ann5 lists %v", got)
	}
	if got := listed(t, c, adm5); !slices.Equal(got, []string{older.AnnouncementID, brief.AnnouncementID, newer.AnnouncementID}) {
		t.Fatalf("adm5 lists %v, want the pinned one first, then newest first", got)
	}
	testkit.Eventually(t, 20*time.Second, "the brief announcement expires", func() bool {
		return !slices.Contains(listed(t, c, reader), brief.AnnouncementID)
	})
	status, body := c.Do("GET", "/api/chat/announcements?limit=1", adm5, nil)
	page := testkit.JSON[struct {
		Announcements []announced
		HasMore       bool
		Next          string
	}](t, body)
	if status != http.StatusOK || len(page.Announcements) != 1 || !page.HasMore || page.Announcements[0].AnnouncementID != older.AnnouncementID {
		t.Fatalf("first page: %d %s", status, body)
	}
	_, body = c.Do("GET", "/api/chat/announcements?limit=1&cursor="+page.Next, adm5, nil)
	if got := testkit.JSON[struct{ Announcements []announced }](t, body).Announcements; len(got) != 1 || got[0].AnnouncementID != newer.AnnouncementID {
		t.Fatalf("second page: %s", body)
	}
}

func TestAudienceTargetsListExactlyWhatTheCallerMayTarget(t *testing.T) {
	c := daemontest.Chatd(t)
	writeDirectory(t, c, geoUsers)
	type targets struct{ Entities, Roles []string }
	cases := []struct {
		name, role, entity string
		want               targets
	}{
		{"super admin", "super_admin", "", targets{[]string{"all", "5", "6"}, []string{"all", "admin", "member", "super_admin"}}},
		{"entity admin", "admin", "5", targets{[]string{"5"}, []string{"all", "admin", "member"}}},
		{"entity admin of an entity with nobody", "admin", "9", targets{[]string{}, []string{}}},
		{"member", "member", "5", targets{[]string{}, []string{}}},
	}
	for _, tc := range cases {
		status, body := c.Do("GET", "/api/chat/audience-targets", tokenOf(t, c, "geosector", "u", tc.role, tc.entity), nil)
		got := testkit.JSON[targets](t, body)
		if status != http.StatusOK || !slices.Equal(got.Entities, tc.want.Entities) || !slices.Equal(got.Roles, tc.want.Roles) {
			t.Errorf("%s: %d %s, want %+v", tc.name, status, body, tc.want)
		}
	}
}

// A chatd that stopped half-way through an announcement (its conversation
// and message in the log, no decision, no audience) leaves it to the
// request's retry: the same clientMsgId appends what is missing, once, with
// the audience of the directory at the announcement's creation.
func TestARetriedAnnouncementCompletesWhatAStoppedChatdLeftHalfDone(t *testing.T) {
	c := daemontest.Chatd(t)
	writeDirectory(t, c, geoUsers)
	ann5, bob5, new5 := connect(t, c, "ann5"), connect(t, c, "bob5"), connect(t, c, "new5")
	id := events.AnnouncementID("geosector", "adm5", "k-stop")
	author := events.Actor{ID: "adm5", Type: events.ActorUser}
	var half []*events.Envelope
	for evID, p := range map[string]events.Payload{
		"conv-" + id: &events.ConversationCreated{ConversationID: id, Kind: events.KindBroadcast, Title: "Réunion",
			ReplyPermission: events.ReplyNone, CreatedBy: "adm5", Members: []events.Member{{UserID: "adm5", Role: events.RoleAdmin}}},
		"ann-post-" + id: &events.MessagePosted{MessageID: events.MessageID("geosector", "adm5", id), ClientMsgID: id,
			ConversationID: id, SenderID: "adm5", SenderType: events.ActorUser, Content: "Demain", ContentType: events.ContentText,
			Announcement: true},
	} {
		e, err := events.New(evID, "geosector", time.Now(), author, p)
		if err != nil {
			t.Fatal(err)
		}
		half = append(half, e)
	}
	slices.SortFunc(half, func(a, b *events.Envelope) int { return strings.Compare(b.ID, a.ID) }) // conv- before ann-post-
	if _, err := jet.NewAppender(c.JetStream()).AppendAll(context.Background(), half); err != nil {
		t.Fatal(err)
	}
	// The directory changes after the announcement's creation: not its audience.
	if status, body := c.Do("PUT", "/api/chat/directory/users/new5", service(t, c), map[string]any{"entity": "5", "role": "member"}); status != http.StatusOK {
		t.Fatalf("directory put: %d %s", status, body)
	}
	adm5 := tokenOf(t, c, "geosector", "adm5", "admin", "5")
	retry := map[string]any{"title": "Réunion", "content": "Demain", "clientMsgId": "k-stop", "targets": []map[string]string{{"entity": "5", "role": "all"}}}
	status, body := c.Do("POST", "/api/chat/announcements", adm5, retry)
	if a := testkit.JSON[announced](t, body); status != http.StatusOK || a.AnnouncementID != id || a.Recipients != 2 {
		t.Fatalf("the retry: %d %s", status, body)
	}
	ann5.WaitType("announcement.new", id)
	bob5.WaitType("announcement.new", id)
	before := c.LastSeq()
	if status, body := c.Do("POST", "/api/chat/announcements", adm5, retry); status != http.StatusOK {
		t.Fatalf("a second retry: %d %s", status, body)
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("a retry of a complete announcement appended %d events", got-before)
	}
	nothingMore(t, c, "announcement.new", new5)
	if n := len(ann5.Of("announcement.new")); n != 1 {
		t.Fatalf("ann5 was told %d times", n)
	}
}
