package daemon_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
)

// Participant changes are decided on the log, not on the read model: while
// the projector is held back, a promotion the read model does not show yet
// already lets bob remove a member, and a removal it does not show yet
// already stops him.
func TestParticipantChangesAreDecidedFromTheLogNotTheLaggingReadModel(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.WriteWait = 200 * time.Millisecond })
	conv := group(t, c, "alice", "bob", "carol", "dave")
	alice, bob := c.Token("geosector", "alice", "member"), c.Token("geosector", "bob", "member")
	path := "/api/chat/conversations/" + conv + "/participants"

	release := c.HoldProjector()
	defer release()
	if status, body := c.Do("POST", path, alice, map[string]any{"userId": "bob", "role": "admin"}); status != http.StatusAccepted {
		t.Fatalf("promote bob: %d %s", status, body)
	}
	if status, body := c.Do("DELETE", path+"/carol", bob, nil); status != http.StatusAccepted {
		t.Fatalf("bob, admin in the log only, removes carol: %d %s", status, body)
	}
	if status, body := c.Do("DELETE", path+"/bob", alice, nil); status != http.StatusAccepted {
		t.Fatalf("alice removes bob: %d %s", status, body)
	}
	before := c.LastSeq()
	if status, body := c.Do("DELETE", path+"/dave", bob, nil); status != http.StatusForbidden || !contains(body, `"code":"not_member"`) {
		t.Fatalf("bob, removed in the log only, removes dave: %d %s, want 403 not_member", status, body)
	}
	if status, body := c.Do("POST", path, bob, map[string]any{"userId": "eve"}); status != http.StatusForbidden || !contains(body, `"code":"not_member"`) {
		t.Fatalf("bob, removed in the log only, adds eve: %d %s, want 403 not_member", status, body)
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused changes appended %d events", got-before)
	}
}
