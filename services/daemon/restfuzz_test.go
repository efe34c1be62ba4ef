package daemon_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// FuzzRESTBodies feeds arbitrary bodies to the real write handlers of a
// running chatd: no body makes it fail (5xx), and a refused body appends
// nothing to the log.
func FuzzRESTBodies(f *testing.F) {
	c := daemontest.Chatd(f)
	alice := c.Token("geosector", "alice", "member")
	status, body := c.Do("POST", "/api/chat/conversations", alice,
		map[string]any{"type": "group", "title": "fuzz", "participantIds": []string{"bob"}})
	if status != http.StatusCreated {
		f.Fatalf("create group: %d %s", status, body)
	}
	paths := []string{"/api/chat/conversations", "/api/chat/conversations/" + testkit.JSON[struct{ ID string }](f, body).ID + "/participants"}
	for _, seed := range []string{
		`{"type":"group","participantIds":["carol"]}`, `{"type":"one_to_one","participantIds":["dave"]}`,
		`{"userId":"erin"}`, `{"userIds":["frank","grace"],"role":"read_only"}`,
		`{"type":"group","type":"one_to_one"}`, `{"TYPE":"group"}`, `{"userId":"a","userId":"b"}`, `{"participantIds":"x"}`,
		`{"title":"` + "\x00" + `"}`, `[]`, `null`, ``, `{"userIds":[null]}`, `{"role":{"a":1,"a":2}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range paths {
			before, err := jet.LastSeq(context.Background(), c.JetStream())
			if err != nil {
				t.Fatal(err)
			}
			a := call(t, c.HTTPAddr(), "POST", path, alice, "application/json", string(body))
			if a.status >= 500 {
				t.Fatalf("POST %s %q: %d %s", path, body, a.status, a.body)
			}
			if a.status < 400 {
				continue
			}
			after, err := jet.LastSeq(context.Background(), c.JetStream())
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("POST %s %q refused with %d but appended %d events", path, body, a.status, after-before)
			}
		}
	})
}
