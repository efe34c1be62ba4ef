package daemon_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// sentinelAppends checks that nothing was appended since before: one valid
// send now adds exactly its posting and its decision.
func sentinelAppends(t *testing.T, c *daemontest.Chat, cl *testkit.Client, conv string, before uint64) {
	t.Helper()
	id := "sentinel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	send(cl, conv, id, "sentinel "+id) // its own content: a test may check twice
	cl.WaitType("message.new", "sentinel "+id)
	if got := c.LastSeq(); got != before+2 {
		t.Fatalf("log grew by %d events, want 2 (the sentinel's): bad input reached the log", got-before)
	}
}

func TestBadCommandsAreRejectedAndAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()

	cases := []struct {
		name, action string
		payload      []byte
		code         string
	}{
		{"malformed JSON", "send", []byte(`{"clientMsgId": "x1", `), "invalid_payload"},
		{"not an object", "send", []byte(`["a"]`), "invalid_payload"},
		{"trailing data", "send", []byte(`{"clientMsgId":"x2","conversationId":"` + conv + `","content":"a"} {}`), "invalid_payload"},
		{"not UTF-8", "send", []byte("{\"clientMsgId\":\"x3\",\"conversationId\":\"" + conv + "\",\"content\":\"\xff\"}"), "invalid_payload"},
		{"unknown action", "dance", []byte(`{}`), "unsupported"},
		{"bad conversation id", "send", []byte(`{"clientMsgId":"x4","conversationId":"no/such id","content":"a"}`), "invalid_payload"},
		{"bad client id", "send", []byte(`{"clientMsgId":"x y","conversationId":"` + conv + `","content":"a"}`), "invalid_payload"},
		{"missing client id", "send", []byte(`{"conversationId":"` + conv + `","content":"a"}`), "invalid_payload"},
		{"empty content", "send", []byte(`{"clientMsgId":"x5","conversationId":"` + conv + `","content":"  "}`), "invalid_payload"},
		{"unknown content type", "send", []byte(`{"clientMsgId":"x6","conversationId":"` + conv + `","content":"a","contentType":"video"}`), "invalid_payload"},
		{"content too large", "send", []byte(`{"clientMsgId":"x7","conversationId":"` + conv + `","content":"` + strings.Repeat("a", 9000) + `"}`), "too_large"},
	}
	for _, tc := range cases {
		alice.Publish("chat/cmd/alice/"+tc.action, tc.payload)
	}
	for _, tc := range cases {
		found := false
		for _, r := range alice.Of("command.rejected") {
			if contains(r.Data, `"code":"`+tc.code+`"`) && contains(r.Data, `"action":"`+tc.action+`"`) {
				found = true
			}
		}
		if !found {
			alice.WaitFor(tc.name+" rejected with "+tc.code, func(r testkit.Received) bool {
				return r.Type == "command.rejected" && contains(r.Data, `"code":"`+tc.code+`"`)
			})
		}
	}
	alice.WaitFor("every bad command answered", func(testkit.Received) bool {
		return len(alice.Of("command.rejected")) == len(cases)
	})
	for _, r := range alice.Of("command.rejected") {
		if r.Topic != "chat/user/alice/errors" {
			t.Fatalf("rejection on %s", r.Topic)
		}
	}
	sentinelAppends(t, c, alice, conv, before)
}

func TestOversizedPacketIsRefusedByTheBroker(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()

	mallory := connect(t, c, "mallory")
	mallory.Paho().Publish("chat/cmd/mallory/send", 1, false, strings.Repeat("x", 200<<10))
	testkit.Eventually(t, 20*time.Second, "the broker to drop the oversized client", func() bool {
		return !mallory.Paho().IsConnectionOpen()
	})
	sentinelAppends(t, c, alice, conv, before)
}

func TestSendUnderAnotherUsersTopicIsRefused(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "carol")
	before := c.LastSeq()

	carol := connect(t, c, "carol")
	carol.Paho().Publish("chat/cmd/alice/send", 1, false,
		`{"clientMsgId":"spoof","conversationId":"`+conv+`","content":"I am alice"}`)
	testkit.Eventually(t, 20*time.Second, "the broker to disconnect the spoofer", func() bool {
		return !carol.Paho().IsConnectionOpen()
	})
	sentinelAppends(t, c, alice, conv, before)
	if countContaining(alice.Of("moderation.result"), "spoof") != 0 {
		t.Fatal("a spoofed command was processed")
	}
}

func TestBrokerRefusesBadCredentialsAndForeignTopics(t *testing.T) {
	c := daemontest.Chatd(t)
	url := "tcp://" + c.MQTTAddr()
	expired, _ := auth.Mint(c.Cfg.JWTSecret, "geosector", "alice", "member", "", "", time.Minute, time.Now().Add(-time.Hour))
	forged, _ := auth.Mint([]byte("another-secret-another-secret-0123456789"), "geosector", "alice", "member", "", "", time.Hour, time.Now())
	unknownApp, _ := auth.Mint(c.Cfg.JWTSecret, "nosuchapp", "alice", "member", "", "", time.Hour, time.Now())
	for name, creds := range map[string][2]string{
		"no password":         {"alice", ""},
		"garbage":             {"alice", "not-a-jwt"},
		"expired":             {"alice", expired},
		"wrong key":           {"alice", forged},
		"unknown application": {"alice", unknownApp},
		"another user":        {"bob", c.Token("geosector", "alice", "member")},
	} {
		cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("bad-" + creds[0]).
			SetUsername(creds[0]).SetPassword(creds[1]).SetAutoReconnect(false))
		tok := cl.Connect()
		if !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
			cl.Disconnect(0)
			t.Fatalf("%s: connect accepted", name)
		}
	}

	alice := connect(t, c, "alice")
	for _, filter := range []string{"chat/user/bob/#", "chat/user/+/messages", "#", "chat/cmd/#", "resalice/user/alice/#"} {
		tok := alice.Paho().Subscribe(filter, 1, nil)
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("subscribe %s: no answer", filter)
		}
		if code := tok.(*paho.SubscribeToken).Result()[filter]; code < 0x80 {
			t.Fatalf("subscribe %s granted (code %#x)", filter, code)
		}
	}
}

func TestRESTRefusesBadRequests(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := c.Token("geosector", "alice", "member"), c.Token("geosector", "bob", "member")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()
	expired, _ := auth.Mint(c.Cfg.JWTSecret, "geosector", "alice", "member", "", "", time.Minute, time.Now().Add(-time.Hour))

	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "GET", "/api/chat/conversations", "", nil, 401, "unauthenticated"},
		{"garbage token", "GET", "/api/chat/conversations", "xyz", nil, 401, "unauthenticated"},
		{"expired token", "GET", "/api/chat/conversations", expired, nil, 401, "unauthenticated"},
		{"malformed JSON", "POST", "/api/chat/conversations", alice, []byte(`{"type":`), 400, "invalid_payload"},
		{"unknown field", "POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "participantIds": []string{"bob"}, "admin": true}, 400, "invalid_payload"},
		{"oversized body", "POST", "/api/chat/conversations", alice, []byte(`{"title":"` + strings.Repeat("a", 100<<10) + `"}`), 413, "too_large"},
		{"bad participant id", "POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "participantIds": []string{"bob/../x"}}, 400, "invalid_payload"},
		{"unknown type", "POST", "/api/chat/conversations", alice, map[string]any{"type": "party", "participantIds": []string{"bob"}}, 400, "invalid_payload"},
		{"one_to_one with two others", "POST", "/api/chat/conversations", alice, map[string]any{"type": "one_to_one", "participantIds": []string{"bob", "carol"}}, 400, "invalid_payload"},
		{"bad reply permission", "POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "participantIds": []string{"bob"}, "replyPermission": "anyone"}, 400, "invalid_payload"},
		{"member adds participant", "POST", "/api/chat/conversations/" + conv + "/participants", bob, map[string]any{"userId": "dave"}, 403, "forbidden"},
		{"member removes another", "DELETE", "/api/chat/conversations/" + conv + "/participants/alice", bob, nil, 403, "forbidden"},
		{"non-member lists participants", "GET", "/api/chat/conversations/" + conv + "/participants", c.Token("geosector", "carol", "member"), nil, 403, "not_member"},
		{"unknown conversation", "GET", "/api/chat/conversations/nope/messages", alice, nil, 404, "not_found"},
		{"remove a non-participant", "DELETE", "/api/chat/conversations/" + conv + "/participants/zed", alice, nil, 404, "not_found"},
		{"bad limit", "GET", "/api/chat/conversations/" + conv + "/messages?limit=100000", alice, nil, 400, "invalid_payload"},
		{"bad cursor", "GET", "/api/chat/conversations/" + conv + "/messages?before=abc", alice, nil, 400, "invalid_payload"},
		{"another app's conversation", "GET", "/api/chat/conversations/" + conv + "/messages", c.Token("resalice", "alice", "member"), nil, 404, "not_found"},
	}
	for _, tc := range cases {
		status, body := c.Do(tc.method, tc.path, tc.token, tc.body)
		if status != tc.status || !contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}
}

func TestOneToOneIsCreatedOnce(t *testing.T) {
	c := daemontest.Chatd(t)
	req := map[string]any{"type": "one_to_one", "participantIds": []string{"bob"}}
	status, first := c.Do("POST", "/api/chat/conversations", c.Token("geosector", "alice", "member"), req)
	if status != http.StatusCreated {
		t.Fatalf("first: %d %s", status, first)
	}
	before := c.LastSeq()
	req["participantIds"] = []string{"alice"}
	status, second := c.Do("POST", "/api/chat/conversations", c.Token("geosector", "bob", "member"), req)
	if status != http.StatusOK {
		t.Fatalf("second: %d %s", status, second)
	}
	a, b := testkit.JSON[struct{ ID string }](t, first), testkit.JSON[struct{ ID string }](t, second)
	if a.ID != b.ID {
		t.Fatalf("two one_to_one conversations: %s and %s", a.ID, b.ID)
	}
	if c.LastSeq() != before {
		t.Fatal("the second creation appended an event")
	}
}

func subscribeCode(t *testing.T, cl *testkit.Client, filter string) byte {
	t.Helper()
	tok := cl.Paho().Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("subscribe %s: no answer", filter)
	}
	return tok.(*paho.SubscribeToken).Result()[filter]
}
