package daemon_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// withAcme adds a third application with announcements on, for foreign ids.
func withAcme(cfg *config.Config) {
	acme := *cfg.Apps["geosector"]
	acme.Name, acme.TopicPrefix = "acme", "acme"
	cfg.Apps["acme"] = &acme
}

type refusalCase struct {
	name, method, path, token string
	body                      any
	status                    int
	code, says                string
}

func checkRefusals(t *testing.T, c *daemontest.Chat, cases []refusalCase) {
	t.Helper()
	for _, tc := range cases {
		status, body := c.Do(tc.method, tc.path, tc.token, tc.body)
		e := testkit.JSON[struct {
			Error struct{ Code, Message string }
		}](t, body).Error
		if status != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.says) {
			t.Errorf("%s: %d %s, want %d %s saying %q", tc.name, status, body, tc.status, tc.code, tc.says)
		}
	}
}

func TestBadAnnouncementsAreRefusedAndAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited, withAcme)
	writeDirectory(t, c, geoUsers)
	boss := tokenOf(t, c, "geosector", "boss", "super_admin", "")
	adm5 := tokenOf(t, c, "geosector", "adm5", "admin", "5")
	member := tokenOf(t, c, "geosector", "ann5", "member", "5")
	a := announce(t, c, adm5, map[string]any{"title": "Réunion", "clientMsgId": "k1", "targets": []map[string]string{{"entity": "5", "role": "all"}}})
	fanoutPassed(t, c, c.LastSeq())
	before := c.LastSeq()

	to := func(entity, role string) []map[string]string {
		return []map[string]string{{"entity": entity, "role": role}}
	}
	ok := func(change func(map[string]any)) map[string]any {
		b := map[string]any{"title": "Réunion", "content": "Demain", "targets": to("all", "all")}
		change(b)
		return b
	}
	post := "/api/chat/announcements"
	cases := []refusalCase{
		{"a member announcing", "POST", post, member, ok(func(map[string]any) {}), 403, "forbidden", "admins"},
		{"an entity admin targeting another entity", "POST", post, adm5, ok(func(b map[string]any) { b["targets"] = to("6", "all") }), 403, "forbidden", "own entity"},
		{"an entity admin targeting every entity", "POST", post, adm5, ok(func(b map[string]any) { b["targets"] = to("all", "admin") }), 403, "forbidden", "own entity"},
		{"an entity admin adding another entity to theirs", "POST", post, adm5,
			ok(func(b map[string]any) { b["targets"] = append(to("5", "all"), to("6", "member")...) }), 403, "forbidden", "own entity"},
		{"an unknown entity", "POST", post, boss, ok(func(b map[string]any) { b["targets"] = to("9", "all") }), 400, "invalid_payload", "entity"},
		{"an unknown role", "POST", post, boss, ok(func(b map[string]any) { b["targets"] = to("all", "mayor") }), 400, "invalid_payload", "role"},
		{"an audience of nobody", "POST", post, boss, ok(func(b map[string]any) { b["targets"] = to("all", "super_admin") }), 400, "invalid_payload", "no active user"},
		{"a malformed target", "POST", post, boss, ok(func(b map[string]any) { b["targets"] = to("5/6", "all") }), 400, "invalid_payload", "entity"},
		{"no targets", "POST", post, boss, ok(func(b map[string]any) { b["targets"] = []any{} }), 400, "invalid_payload", "targets"},
		{"a target without role", "POST", post, boss, ok(func(b map[string]any) { b["targets"] = []map[string]string{{"entity": "5"}} }), 400, "invalid_payload", "role"},
		{"a missing title", "POST", post, boss, ok(func(b map[string]any) { delete(b, "title") }), 400, "invalid_payload", "title"},
		{"a blank title", "POST", post, boss, ok(func(b map[string]any) { b["title"] = "  " }), 400, "invalid_payload", "title"},
		{"a NUL in the title", "POST", post, boss, ok(func(b map[string]any) { b["title"] = "a\x00b" }), 400, "invalid_payload", "title"},
		{"a long title", "POST", post, boss, ok(func(b map[string]any) { b["title"] = strings.Repeat("t", 201) }), 400, "invalid_payload", "title"},
		{"an expiry in the past", "POST", post, boss, ok(func(b map[string]any) { b["expiresAt"] = time.Now().Add(-time.Minute) }), 400, "invalid_payload", "expiresAt"},
		{"an expiry that is no time", "POST", post, boss, ok(func(b map[string]any) { b["expiresAt"] = "tomorrow" }), 400, "invalid_payload", "expiresAt"},
		{"an unknown reply permission", "POST", post, boss, ok(func(b map[string]any) { b["replyPermission"] = "some" }), 400, "invalid_payload", "replyPermission"},
		{"an attachment", "POST", post, boss, ok(func(b map[string]any) { b["attachmentId"] = "f1" }), 400, "unsupported", "attachmentId"},
		{"a malformed client id", "POST", post, boss, ok(func(b map[string]any) { b["clientMsgId"] = "k 1" }), 400, "invalid_payload", "clientMsgId"},
		{"an unknown field", "POST", post, boss, ok(func(b map[string]any) { b["audience"] = "all" }), 400, "invalid_payload", "audience"},
		{"malformed JSON", "POST", post, boss, []byte(`{"title":`), 400, "invalid_payload", "body"},
		{"oversized content", "POST", post, boss, ok(func(b map[string]any) { b["content"] = strings.Repeat("x", 8001) }), 413, "too_large", "content"},
		{"an oversized body", "POST", post, boss, ok(func(b map[string]any) { b["content"] = strings.Repeat("x", 70000) }), 413, "too_large", "body"},
		{"no token", "POST", post, "", ok(func(map[string]any) {}), 401, "unauthenticated", "token"},
		{"an application with announcements off", "POST", post, tokenOf(t, c, "resalice", "boss", "super_admin", ""),
			ok(func(map[string]any) {}), 403, "forbidden", "off"},
		{"another application's directory", "POST", post, tokenOf(t, c, "acme", "boss", "super_admin", ""),
			ok(func(b map[string]any) { b["targets"] = to("5", "all") }), 400, "invalid_payload", "entity"},

		{"stats of a recipient", "GET", "/api/chat/announcements/" + a.AnnouncementID + "/stats", member, nil, 403, "forbidden", "author"},
		{"stats of an entity admin not its author", "GET", "/api/chat/announcements/" + a.AnnouncementID + "/stats",
			tokenOf(t, c, "geosector", "adm6", "admin", "6"), nil, 403, "forbidden", "author"},
		{"stats of another application's announcement", "GET", "/api/chat/announcements/" + a.AnnouncementID + "/stats",
			tokenOf(t, c, "acme", "adm5", "admin", "5"), nil, 404, "not_found", "announcement"},
		{"stats of no announcement", "GET", "/api/chat/announcements/a404/stats", boss, nil, 404, "not_found", "announcement"},
		{"stats of a malformed id", "GET", "/api/chat/announcements/a.b/stats", boss, nil, 400, "invalid_payload", "id"},
		{"stats with limit 0", "GET", "/api/chat/announcements/" + a.AnnouncementID + "/stats?limit=0", boss, nil, 400, "invalid_payload", "limit"},
		{"stats with a malformed cursor", "GET", "/api/chat/announcements/" + a.AnnouncementID + "/stats?cursor=a%20b", boss, nil, 400, "invalid_payload", "cursor"},
		{"a list with a malformed cursor", "GET", "/api/chat/announcements?cursor=2-x", boss, nil, 400, "invalid_payload", "cursor"},
		{"a list with limit 201", "GET", "/api/chat/announcements?limit=201", boss, nil, 400, "invalid_payload", "limit"},
		{"a list in an application with announcements off", "GET", "/api/chat/announcements", tokenOf(t, c, "resalice", "u", "member", ""), nil, 403, "forbidden", "off"},
		{"audience targets with announcements off", "GET", "/api/chat/audience-targets", tokenOf(t, c, "resalice", "u", "super_admin", ""), nil, 403, "forbidden", "off"},
	}
	checkRefusals(t, c, cases)

	// The same request again (its clientMsgId) is the same announcement.
	status, body := c.Do("POST", post, adm5, map[string]any{"title": "Réunion", "clientMsgId": "k1", "targets": to("5", "all")})
	if again := testkit.JSON[announced](t, body); status != http.StatusOK || again.AnnouncementID != a.AnnouncementID {
		t.Errorf("a repeated announcement: %d %s, want 200 with %s", status, body, a.AnnouncementID)
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("the log grew by %d events: bad or repeated announcements reached it", got-before)
	}
	nothingMore(t, c, "announcement.new", connect(t, c, "cat6"))
}

func TestBadDirectoryWritesAreRefusedAndWriteNothing(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	writeDirectory(t, c, geoUsers)
	before := c.LastSeq()
	svc := service(t, c)
	put := "/api/chat/directory/users/"
	batch := "/api/chat/directory/users:batch"
	users := func(n int, change func(int, map[string]any)) map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"id": fmt.Sprintf("u%05d", i), "entity": "7", "role": "member"}
			change(i, out[i])
		}
		return map[string]any{"users": out}
	}
	none := func(int, map[string]any) {}
	cases := []refusalCase{
		{"a member's token", "PUT", put + "zed", tokenOf(t, c, "geosector", "zed", "member", "5"), map[string]any{"entity": "5", "role": "member"}, 403, "forbidden", "service"},
		{"a super admin's token", "PUT", put + "zed", tokenOf(t, c, "geosector", "boss", "super_admin", ""), map[string]any{"entity": "5", "role": "member"}, 403, "forbidden", "service"},
		{"no token", "PUT", put + "zed", "", map[string]any{"entity": "5", "role": "member"}, 401, "unauthenticated", "token"},
		{"a service of an application with announcements off", "PUT", put + "zed", tokenOf(t, c, "resalice", "hostapp", auth.RoleService, ""),
			map[string]any{"entity": "5", "role": "member"}, 403, "forbidden", "off"},
		{"a malformed id", "PUT", put + "z.d", svc, map[string]any{"entity": "5", "role": "member"}, 400, "invalid_payload", "id"},
		{"no role", "PUT", put + "zed", svc, map[string]any{"entity": "5"}, 400, "invalid_payload", "role"},
		{"entity all", "PUT", put + "zed", svc, map[string]any{"entity": "all", "role": "member"}, 400, "invalid_payload", "entity"},
		{"a malformed entity", "PUT", put + "zed", svc, map[string]any{"entity": "5 6", "role": "member"}, 400, "invalid_payload", "entity"},
		{"a NUL in the name", "PUT", put + "zed", svc, map[string]any{"entity": "5", "role": "member", "name": "z\x00"}, 400, "invalid_payload", "name"},
		{"an unknown field", "PUT", put + "zed", svc, map[string]any{"entity": "5", "role": "member", "email": "z@x"}, 400, "invalid_payload", "email"},
		{"malformed JSON", "PUT", put + "zed", svc, []byte(`{"entity":`), 400, "invalid_payload", "body"},
		{"a batch with one invalid user", "POST", batch, svc, users(50, func(i int, u map[string]any) {
			if i == 42 {
				u["role"] = "all"
			}
		}), 400, "invalid_payload", "users[42].role"},
		{"a batch with a user twice", "POST", batch, svc, users(5, func(i int, u map[string]any) {
			if i == 3 {
				u["id"] = "u00001"
			}
		}), 400, "invalid_payload", "users[3].id"},
		{"a batch with an unknown field", "POST", batch, svc, users(3, func(i int, u map[string]any) { u["email"] = "x" }), 400, "invalid_payload", "email"},
		{"an empty batch", "POST", batch, svc, map[string]any{"users": []any{}}, 400, "invalid_payload", "users"},
		{"a batch past 10,000 users", "POST", batch, svc, users(10001, none), 413, "too_large", "10000"},
		{"a batch from a member", "POST", batch, tokenOf(t, c, "geosector", "zed", "member", "5"), users(2, none), 403, "forbidden", "service"},
	}
	checkRefusals(t, c, cases)
	// The same writes again change nothing and append nothing.
	writeDirectory(t, c, geoUsers)
	if status, body := c.Do("PUT", put+"adm5", svc, map[string]any{"entity": "5", "role": "admin", "name": "Admin Cinq"}); status != http.StatusOK {
		t.Fatalf("a repeated put: %d %s", status, body)
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("the log grew by %d events: bad or repeated directory writes reached it", got-before)
	}
	// Nothing of the refused batches reached the read model either.
	status, body := c.Do("GET", "/api/chat/audience-targets", tokenOf(t, c, "geosector", "boss", "super_admin", ""), nil)
	if status != http.StatusOK || strings.Contains(string(body), `"7"`) {
		t.Fatalf("audience targets after refused batches: %d %s", status, body)
	}
}

func TestTenThousandDirectoryUsersAreWrittenInOneCall(t *testing.T) {
	c := daemontest.Chatd(t)
	users := make([]map[string]any, 10000)
	for i := range users {
		users[i] = map[string]any{"id": fmt.Sprintf("user-%05d", i), "entity": fmt.Sprint(i % 40), "role": []string{"member", "admin"}[min(i%50, 1)],
			"name": fmt.Sprintf("Utilisateur n°%d", i)}
	}
	start := time.Now()
	writeDirectory(t, c, users)
	took := time.Since(start)
	t.Logf("10,000 directory users written and projected in %s", took)
	boss := tokenOf(t, c, "geosector", "boss", "super_admin", "")
	a := announce(t, c, boss, map[string]any{"title": "Tous", "targets": []map[string]string{{"entity": "all", "role": "all"}}})
	if a.Recipients != 10000 {
		t.Fatalf("an announcement to all reaches %d", a.Recipients)
	}
	s := statsOf(t, c, boss, a.AnnouncementID, "?limit=200")
	if s.Recipients != 10000 || s.Unread != 10000 || len(s.UnreadUsers) != 200 || !s.HasMore || s.UnreadUsers[0] != "user-00000" {
		t.Fatalf("stats of 10,000: %d recipients, %d unread, page of %d", s.Recipients, s.Unread, len(s.UnreadUsers))
	}
}
