package daemon_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
)

func TestBadAnonymousRequestsAreRefusedAndAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	v := startVisit(t, c, "device-badinput-00000001", "pro", http.StatusCreated)
	anon, conv := v.AnonymousUser.ID, v.Conversation.ID
	pro := c.Token("resalice", "pro", "member")
	bob := c.Token("resalice", "bob", "member")
	status, body := c.Do("POST", "/api/chat/conversations", bob, map[string]any{"type": "group", "title": "g", "participantIds": []string{"pro"}})
	if status != http.StatusCreated {
		t.Fatalf("group: %d %s", status, body)
	}
	groupID := strings.Split(strings.Split(string(body), `"id":"`)[1], `"`)[0]
	visitBody := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"app": "resalice", "deviceId": "device-badinput-00000002", "professionalId": "pro"}
		edit(b)
		return b
	}
	last := c.LastSeq()
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"malformed JSON", "POST", "/api/chat/anonymous", "", []byte(`{"app":`), 400, "invalid_payload"},
		{"unknown field", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["admin"] = true }), 400, "invalid_payload"},
		{"duplicate key", "POST", "/api/chat/anonymous", "", []byte(`{"app":"resalice","app":"geosector","deviceId":"device-badinput-00000002","professionalId":"pro"}`), 400, "invalid_payload"},
		{"no app", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { delete(b, "app") }), 400, "invalid_payload"},
		{"unknown app", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["app"] = "nowhere" }), 404, "not_found"},
		{"no device", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { delete(b, "deviceId") }), 400, "invalid_payload"},
		{"short device id", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["deviceId"] = "abc" }), 400, "invalid_payload"},
		{"device id with a slash", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["deviceId"] = "device/0123456789abc" }), 400, "invalid_payload"},
		{"no professional", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { delete(b, "professionalId") }), 400, "invalid_payload"},
		{"visitor as professional", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["professionalId"] = anon }), 400, "invalid_payload"},
		{"invalid professional", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["professionalId"] = "pro fessional" }), 400, "invalid_payload"},
		{"name too long", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["name"] = strings.Repeat("n", 101) }), 413, "too_large"},
		{"NUL in name", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["name"] = "Zo\u0000é" }), 400, "invalid_payload"},
		{"not an email", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["email"] = "zoe at example" }), 400, "invalid_payload"},
		{"email too long", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["email"] = strings.Repeat("z", 250) + "@x.org" }), 413, "too_large"},
		{"metadata not strings", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["metadata"] = map[string]any{"a": 1} }), 400, "invalid_payload"},
		{"too many metadata keys", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) {
			m := map[string]string{}
			for i := range 21 {
				m[strings.Repeat("k", i+1)] = "v"
			}
			b["metadata"] = m
		}), 413, "too_large"},
		{"metadata value too long", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["metadata"] = map[string]string{"page": strings.Repeat("p", 513)} }), 413, "too_large"},
		{"body too large", "POST", "/api/chat/anonymous", "", visitBody(func(b map[string]any) { b["name"] = strings.Repeat("n", 70<<10) }), 413, "too_large"},

		{"convert without a token", "POST", "/api/chat/anonymous/" + anon + "/convert", "", map[string]string{"userId": "client"}, 401, "unauthenticated"},
		{"convert by a stranger", "POST", "/api/chat/anonymous/" + anon + "/convert", bob, map[string]string{"userId": "client"}, 403, "forbidden"},
		{"convert to an invalid id", "POST", "/api/chat/anonymous/" + anon + "/convert", pro, map[string]string{"userId": "client 7"}, 400, "invalid_payload"},
		{"convert to a visitor", "POST", "/api/chat/anonymous/" + anon + "/convert", pro, map[string]string{"userId": "anon-x"}, 400, "invalid_payload"},
		{"convert to the professional", "POST", "/api/chat/anonymous/" + anon + "/convert", pro, map[string]string{"userId": "pro"}, 409, "conflict"},
		{"convert an unknown visitor", "POST", "/api/chat/anonymous/anon-nobody/convert", pro, map[string]string{"userId": "client"}, 404, "not_found"},
		{"convert a known user", "POST", "/api/chat/anonymous/bob/convert", pro, map[string]string{"userId": "client"}, 404, "not_found"},
		{"convert an invalid id", "POST", "/api/chat/anonymous/anon%2F..%2Fx/convert", pro, map[string]string{"userId": "client"}, 400, "invalid_payload"},
		{"convert with an unknown field", "POST", "/api/chat/anonymous/" + anon + "/convert", pro, map[string]any{"userId": "client", "force": true}, 400, "invalid_payload"},

		{"transfer by the visitor", "POST", "/api/chat/conversations/" + conv + "/transfer", v.Token, map[string]string{"toUserId": "pro2"}, 403, "forbidden"},
		{"transfer by a stranger", "POST", "/api/chat/conversations/" + conv + "/transfer", bob, map[string]string{"toUserId": "pro2"}, 403, "not_member"},
		{"transfer to an invalid id", "POST", "/api/chat/conversations/" + conv + "/transfer", pro, map[string]string{"toUserId": "pro/2"}, 400, "invalid_payload"},
		{"transfer to the visitor", "POST", "/api/chat/conversations/" + conv + "/transfer", pro, map[string]string{"toUserId": anon}, 400, "invalid_payload"},
		{"transfer of a group", "POST", "/api/chat/conversations/" + groupID + "/transfer", bob, map[string]string{"toUserId": "pro2"}, 409, "conflict"},
		{"transfer of nothing", "POST", "/api/chat/conversations/nosuch/transfer", pro, map[string]string{"toUserId": "pro2"}, 404, "not_found"},
		{"transfer without body", "POST", "/api/chat/conversations/" + conv + "/transfer", pro, []byte(``), 400, "invalid_payload"},
	} {
		status, body := c.Do(tc.method, tc.path, tc.token, tc.body)
		if status != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if got := c.LastSeq(); got != last {
		t.Fatalf("bad requests appended %d events", got-last)
	}
}
