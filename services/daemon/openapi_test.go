package daemon_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
)

// Every operation the OpenAPI document names is served: asked without a
// token it answers 401 (or, for the one open to anyone, anything but 404 and
// 405), never "no such route".
func TestEveryDocumentedOperationIsRouted(t *testing.T) {
	c := daemontest.Chatd(t)
	status, body := c.Do("GET", "/api/chat/openapi.json", "", nil)
	if status != http.StatusOK {
		t.Fatalf("openapi.json: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/chat/") || path == "/api/chat/openapi.json" {
			continue
		}
		concrete := strings.NewReplacer("{id}", "x1", "{userId}", "u1", "{messageId}", "m1", "{conversationId}", "c1").Replace(path)
		for method := range ops {
			method = strings.ToUpper(method)
			if method == "PARAMETERS" {
				continue
			}
			n++
			got := call(t, c.HTTPAddr(), method, concrete, "", "application/json", "")
			if got.status == http.StatusNotFound || got.status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s", method, concrete, got.status, got.body)
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d operations documented", n)
	}
}
