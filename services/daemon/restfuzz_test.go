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
	conv := "/api/chat/conversations/" + testkit.JSON[struct{ ID string }](f, body).ID
	writes := []struct{ method, path string }{
		{"POST", "/api/chat/conversations"}, {"POST", conv + "/participants"},
		{"PUT", conv}, {"PUT", conv + "/pin"}, {"PUT", conv + "/reply-permission"}, {"PUT", conv + "/participants/bob"},
	}
	for _, seed := range []string{
		`{"type":"group","participantIds":["carol"]}`, `{"type":"one_to_one","participantIds":["dave"]}`,
		`{"userId":"erin"}`, `{"userIds":["frank","grace"],"role":"read_only"}`,
		`{"type":"group","type":"one_to_one"}`, `{"TYPE":"group"}`, `{"userId":"a","userId":"b"}`, `{"participantIds":"x"}`,
		`{"title":"` + "\x00" + `"}`, `[]`, `null`, ``, `{"userIds":[null]}`, `{"role":{"a":1,"a":2}}`,
		`{"title":"t","settings":{"a":1,"b":"x","c":true}}`, `{"settings":{"a":{"b":1}}}`, `{"settings":{"a b":1}}`,
		`{"pinned":true}`, `{"pinned":"yes"}`, `{"replyPermission":"none"}`, `{"replyPermission":"all","replyPermission":"none"}`,
		`{"role":"read_only","canReply":null}`, `{"canReply":false}`, `{"canReply":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, w := range writes {
			before, err := jet.LastSeq(context.Background(), c.JetStream())
			if err != nil {
				t.Fatal(err)
			}
			a := call(t, c.HTTPAddr(), w.method, w.path, alice, "application/json", string(body))
			if a.status >= 500 {
				t.Fatalf("%s %s %q: %d %s", w.method, w.path, body, a.status, a.body)
			}
			if a.status < 400 {
				continue
			}
			after, err := jet.LastSeq(context.Background(), c.JetStream())
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("%s %s %q refused with %d but appended %d events", w.method, w.path, body, a.status, after-before)
			}
		}
	})
}
