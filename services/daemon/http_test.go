package daemon_test

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends a raw request to chatd: contentType "" sends none.
func call(t testing.TB, addr, method, path, token, contentType, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestEveryAnswerIsNeitherCachedNorSniffed(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")
	for _, tc := range []struct {
		method, path, token string
		status              int
		cache               string
	}{
		{"GET", "/api/chat/conversations", alice, 200, "no-store"},
		{"GET", "/api/chat/conversations/" + conv + "/messages", alice, 200, "no-store"},
		{"GET", "/api/chat/conversations", "", 401, "no-store"},
		{"GET", "/api/chat/conversations/nope", alice, 404, "no-store"},
		{"GET", "/api/chat/nothing-here", alice, 404, "no-store"},
		{"PUT", "/api/chat/conversations", alice, 405, "no-store"},
		{"GET", "/healthz", "", 200, "no-store"},
		{"GET", "/readyz", "", 200, "no-store"},
		{"GET", "/metrics", "", 200, "no-store"},
		{"GET", "/api/chat/openapi.json", "", 200, "no-cache"},
	} {
		a := call(t, c.HTTPAddr(), tc.method, tc.path, tc.token, "", "")
		if a.status != tc.status || a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Cache-Control") != tc.cache {
			t.Errorf("%s %s: %d nosniff=%q cache=%q, want %d nosniff %s", tc.method, tc.path, a.status,
				a.header.Get("X-Content-Type-Options"), a.header.Get("Cache-Control"), tc.status, tc.cache)
		}
	}
}

func TestWrongMethodAnswers405WithAllow(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/api/chat/conversations", "GET, HEAD, POST"},
		{"DELETE", "/api/chat/conversations", "GET, HEAD, POST"},
		{"POST", "/api/chat/conversations/" + conv, "DELETE, GET, HEAD, PUT"},
		{"PATCH", "/api/chat/conversations/" + conv + "/participants", "GET, HEAD, POST"},
		{"GET", "/api/chat/conversations/" + conv + "/participants/bob", "DELETE, PUT"},
		{"POST", "/api/chat/openapi.json", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/metrics", "GET, HEAD"},
		{"POST", "/api/chat/messages/m1/receipts", "GET, HEAD"},
	} {
		a := call(t, c.HTTPAddr(), tc.method, tc.path, alice, "application/json", `{}`)
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != tc.allow || !strings.Contains(a.body, `"code":"unsupported"`) {
			t.Errorf("%s %s: %d Allow=%q %s, want 405 Allow=%q", tc.method, tc.path, a.status, a.header.Get("Allow"), a.body, tc.allow)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}
}

func TestInvalidIDsInThePathAnswer400(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()
	long := strings.Repeat("x", 65)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/chat/conversations/%00"},
		{"GET", "/api/chat/conversations/a%00b/messages"},
		{"GET", "/api/chat/conversations/%C3%A9/participants"},
		{"GET", "/api/chat/conversations/" + long},
		{"POST", "/api/chat/conversations/%00/participants"},
		{"DELETE", "/api/chat/conversations/" + conv + "/participants/%00"},
		{"DELETE", "/api/chat/conversations/" + conv + "/participants/bob.x"},
		{"GET", "/api/chat/messages/%00/receipts"},
		{"GET", "/api/chat/messages/m.1/receipts"},
		{"GET", "/api/chat/messages/" + long + "/receipts"},
	} {
		a := call(t, c.HTTPAddr(), tc.method, tc.path, alice, "application/json", `{"userId":"carol"}`)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, `"code":"invalid_payload"`) || !strings.Contains(a.body, "in the path") {
			t.Errorf("%s %s: %d %s, want 400 invalid_payload", tc.method, tc.path, a.status, a.body)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}
}

func TestRESTRefusesAmbiguousJSONAndOtherContentTypes(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()
	const create, groupBody = "/api/chat/conversations", `{"type":"group","participantIds":["bob"]}`
	add := "/api/chat/conversations/" + conv + "/participants"
	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
		code, message                 string
	}{
		{"duplicate key", create, "application/json", `{"type":"group","participantIds":["bob"],"type":"one_to_one"}`, 400, "invalid_payload", "type: appears more than once"},
		{"key in another case", create, "application/json", `{"type":"group","participantIds":["bob"],"TYPE":"one_to_one"}`, 400, "invalid_payload", "field names are case-sensitive"},
		{"only keys in another case", add, "application/json", `{"UserId":"carol"}`, 400, "invalid_payload", "field names are case-sensitive"},
		{"duplicate inside an unknown field", add, "application/json", `{"userId":"carol","meta":{"a":1,"a":2}}`, 400, "invalid_payload", "meta"},
		{"wrong type named in the contract's words", create, "application/json", `{"type":"group","participantIds":"bob"}`, 400, "invalid_payload", "participantIds: expected a list of strings, got a string"},
		{"plain text", create, "text/plain", groupBody, 415, "unsupported", "application/json"},
		{"form", add, "application/x-www-form-urlencoded", `userId=carol`, 415, "unsupported", "application/json"},
		{"no content type", create, "", groupBody, 415, "unsupported", "application/json"},
		{"another charset", create, "application/json; charset=latin1", groupBody, 415, "unsupported", "application/json"},
	} {
		a := call(t, c.HTTPAddr(), "POST", tc.path, alice, tc.contentType, tc.body)
		if a.status != tc.status || !strings.Contains(a.body, `"code":"`+tc.code+`"`) || !strings.Contains(a.body, tc.message) {
			t.Errorf("%s: %d %s, want %d %s %q", tc.name, a.status, a.body, tc.status, tc.code, tc.message)
		}
		if strings.Contains(a.body, "Go ") || strings.Contains(a.body, "struct") || strings.Contains(a.body, "[]string") {
			t.Errorf("%s: the error names Go types: %s", tc.name, a.body)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}
	if a := call(t, c.HTTPAddr(), "POST", create, alice, "application/json; charset=UTF-8", groupBody); a.status != http.StatusCreated {
		t.Fatalf("JSON with a charset refused: %d %s", a.status, a.body)
	}
}

func TestMQTTRefusesAmbiguousJSON(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()
	cmd := func(fields string) string {
		return `{"clientMsgId":"amb-1","conversationId":"` + conv + `",` + fields + `}`
	}
	cases := map[string]string{
		"duplicate key":       cmd(`"content":"hello","content":"forged"`),
		"key in another case": cmd(`"content":"hello","CONTENT":"forged"`),
		"nested duplicate":    cmd(`"content":"hello","meta":{"a":1,"a":2}`),
	}
	for _, payload := range cases {
		alice.Publish("chat/cmd/alice/send", payload)
	}
	for name, want := range map[string]string{
		"duplicate key": "content: appears more than once", "key in another case": "CONTENT: unknown field", "nested duplicate": "meta.a: appears more than once",
	} {
		alice.WaitFor(name+" rejected", func(r testkit.Received) bool {
			return r.Type == "command.rejected" && contains(r.Data, `"code":"invalid_payload"`) && contains(r.Data, want)
		})
	}
	sentinelAppends(t, c, alice, conv, before)
}

// hs256 signs claims given as raw JSON, whatever their types.
func hs256(t *testing.T, secret []byte, claims string) string {
	t.Helper()
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(head, secret)
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTokensWithBadTimeClaimsAreRefused(t *testing.T) {
	c := daemontest.Chatd(t)
	now := time.Now().Unix()
	exp := strconv.FormatInt(now+3600, 10)
	base := `{"sub":"alice","app":"geosector","role":"member"`
	for name, claims := range map[string]string{
		"exp as a string":      base + `,"exp":"9999999999"}`,
		"iat as a string":      base + `,"exp":` + exp + `,"iat":"` + strconv.FormatInt(now, 10) + `"}`,
		"nbf as a string":      base + `,"exp":` + exp + `,"nbf":"0"}`,
		"issued in the future": base + `,"exp":` + exp + `,"iat":` + strconv.FormatInt(now+3600, 10) + `}`,
		"missing exp":          base + `}`,
	} {
		a := call(t, c.HTTPAddr(), "GET", "/api/chat/conversations", hs256(t, c.Cfg.JWTSecret, claims), "", "")
		if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"code":"unauthenticated"`) {
			t.Errorf("%s: %d %s, want 401 unauthenticated", name, a.status, a.body)
		}
	}
	good := hs256(t, c.Cfg.JWTSecret, base+`,"exp":`+exp+`,"iat":`+strconv.FormatInt(now, 10)+`}`)
	if a := call(t, c.HTTPAddr(), "GET", "/api/chat/conversations", good, "", ""); a.status != http.StatusOK {
		t.Fatalf("the same token with numeric times: %d %s", a.status, a.body)
	}
}

func TestMetricsMoveToTheirOwnAddress(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.MetricsAddr = "127.0.0.1:0" })
	if c.MetricsAddr() == "" || c.MetricsAddr() == c.HTTPAddr() {
		t.Fatalf("metrics address %q (HTTP %q)", c.MetricsAddr(), c.HTTPAddr())
	}
	a := call(t, c.MetricsAddr(), "GET", "/metrics", "", "", "")
	if a.status != http.StatusOK || !strings.Contains(a.body, "chat_commands_total") && !strings.Contains(a.body, "go_goroutines") {
		t.Fatalf("metrics address: %d %.200s", a.status, a.body)
	}
	if a := call(t, c.MetricsAddr(), "GET", "/api/chat/conversations", "", "", ""); a.status != http.StatusNotFound {
		t.Fatalf("the metrics address serves the API: %d", a.status)
	}
	if a := call(t, c.HTTPAddr(), "GET", "/metrics", "", "", ""); a.status != http.StatusNotFound {
		t.Fatalf("the HTTP address still serves /metrics: %d", a.status)
	}
	c.Stop()
	if conn, err := net.DialTimeout("tcp", c.MetricsAddr(), 5*time.Second); err == nil {
		conn.Close()
		t.Fatal("the metrics address still listens after Stop")
	}
}
