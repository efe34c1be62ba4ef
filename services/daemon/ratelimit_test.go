package daemon_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
)

// post sends a JSON body and returns the status, the Retry-After header and
// the body.
func post(t *testing.T, c *daemontest.Chat, path, token, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+c.HTTPAddr()+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b.String()
}

func TestRESTWritesPastTheUsersRateAreRefusedAndAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) {
		l := &cfg.Apps["geosector"].Limits
		l.RESTWritesPerSecond, l.RESTWriteBurst = 0.01, 3
	})
	alice, bob := c.Token("geosector", "alice", "member"), c.Token("geosector", "bob", "member")
	create := `{"type":"group","title":"t","participantIds":["carol"]}`
	for i := range 3 {
		if status, _, body := post(t, c, "/api/chat/conversations", alice, create); status != http.StatusCreated {
			t.Fatalf("write %d within the burst: %d %s", i+1, status, body)
		}
	}
	before := c.LastSeq()
	status, retry, body := post(t, c, "/api/chat/conversations", alice, create)
	if status != http.StatusTooManyRequests || !contains([]byte(body), `"code":"rate_limited"`) {
		t.Fatalf("write past the burst: %d %s, want 429 rate_limited", status, body)
	}
	if secs, err := strconv.Atoi(retry); err != nil || secs < 1 || secs > 100 {
		t.Errorf("Retry-After %q, want whole seconds until the next token (100 at 0.01/s)", retry)
	}
	if got := c.LastSeq(); got != before {
		t.Errorf("a refused write appended %d events", got-before)
	}
	if status, _ := c.Do("GET", "/api/chat/conversations", alice, nil); status != http.StatusOK {
		t.Errorf("a read of a rate-limited user answered %d: reads are not limited", status)
	}
	if status, _, body := post(t, c, "/api/chat/conversations", bob, create); status != http.StatusCreated {
		t.Errorf("another user's write answered %d %s while alice is limited", status, body)
	}
}

func TestRepeatedAuthenticationFailuresBlockTheAddress(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.AuthFailuresPerMinute = 3 })
	valid := c.Token("geosector", "alice", "member")
	for i := range 3 {
		if status, _ := c.Do("GET", "/api/chat/conversations", "not-a-token", nil); status != http.StatusUnauthorized {
			t.Fatalf("bad token %d answered %d, want 401", i+1, status)
		}
	}
	status, body := c.Do("GET", "/api/chat/conversations", "not-a-token", nil)
	if status != http.StatusTooManyRequests || !contains(body, `"code":"rate_limited"`) {
		t.Fatalf("fourth bad token: %d %s, want 429 rate_limited", status, body)
	}
	// The address is blocked, whatever it presents, until its bucket refills.
	if status, _ := c.Do("GET", "/api/chat/conversations", valid, nil); status != http.StatusTooManyRequests {
		t.Errorf("a valid token from the blocked address answered %d, want 429", status)
	}
}
