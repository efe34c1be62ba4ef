package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/projections"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

type visit struct {
	Token         string
	AnonymousUser struct{ ID, ConversationID, ProfessionalID string }
	Conversation  struct{ ID, Role, CreatedBy string }
}

// startVisit starts (or finds again) device's visit to pro in resalice.
func startVisit(t *testing.T, c *daemontest.Chat, device, pro string, wantStatus int) visit {
	t.Helper()
	status, body := c.Do("POST", "/api/chat/anonymous", "", map[string]any{"app": "resalice", "deviceId": device,
		"name": "Zoé", "email": "zoe@example.org", "professionalId": pro, "metadata": map[string]string{"page": "/tarifs"}})
	if status != wantStatus {
		t.Fatalf("POST /anonymous for %s: %d %s, want %d", device, status, body, wantStatus)
	}
	return testkit.JSON[visit](t, body)
}

func resaliceClient(t *testing.T, c *daemontest.Chat, user, token string) *testkit.Client {
	return testkit.Connect(t, "tcp://"+c.MQTTAddr(), "resalice", user, token)
}

func resaliceSend(cl *testkit.Client, conv, clientMsgID, content string) {
	cl.Publish("resalice/cmd/"+cl.User+"/send", map[string]string{
		"clientMsgId": clientMsgID, "conversationId": conv, "content": content, "contentType": "text"})
}

type senders struct {
	Messages []struct{ ID, SenderID, SenderType, Content string }
}

// mqttRefused reports whether the broker refuses user's CONNECT with token.
func mqttRefused(t *testing.T, c *daemontest.Chat, user, token string) bool {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.MQTTAddr()).SetClientID("probe-" + user).
		SetUsername(user).SetPassword(token).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatal("CONNECT got no answer")
	}
	if tok.Error() == nil {
		cl.Disconnect(0)
		return false
	}
	return true
}

func TestAnonymousVisitorChatsIsConvertedAndKeepsItsHistoryAsTheClient(t *testing.T) {
	c := daemontest.Chatd(t)
	v := startVisit(t, c, "device-0123456789abcdef", "pro", http.StatusCreated)
	anon, conv := v.AnonymousUser.ID, v.Conversation.ID
	if !strings.HasPrefix(anon, "anon-") || conv != v.AnonymousUser.ConversationID || v.Conversation.Role != "member" || v.Token == "" {
		t.Fatalf("visit: %+v", v)
	}
	last := c.LastSeq()
	if again := startVisit(t, c, "device-0123456789abcdef", "pro", http.StatusOK); again.AnonymousUser.ID != anon || again.Conversation.ID != conv {
		t.Fatalf("the same device came back as %+v, want visitor %s", again, anon)
	}
	if c.LastSeq() != last {
		t.Fatal("the same device coming back appended to the log")
	}

	pro := resaliceClient(t, c, "pro", c.Token("resalice", "pro", "member"))
	visitor := resaliceClient(t, c, anon, v.Token)
	resaliceSend(visitor, conv, "v-1", "bonjour, une question")
	got := pro.WaitType("message.new", "une question")
	if !contains(got.Data, `"senderType":"anonymous"`) || !contains(got.Data, anon) {
		t.Fatalf("the professional got %s", got.Data)
	}
	resaliceSend(pro, conv, "p-1", "je vous écoute")
	visitor.WaitType("message.new", "je vous écoute")

	// The visitor's token reads its own conversation, nothing else.
	if status, body := c.Do("GET", "/api/chat/conversations", v.Token, nil); status != http.StatusOK || !contains(body, conv) {
		t.Fatalf("visitor's conversations: %d %s", status, body)
	}

	status, body := c.Do("POST", "/api/chat/anonymous/"+anon+"/convert", c.Token("resalice", "pro", "member"), map[string]string{"userId": "client-7"})
	if status != http.StatusOK {
		t.Fatalf("convert: %d %s", status, body)
	}
	// At once: the old token is refused on REST and at CONNECT, and the
	// visitor's live connection is closed.
	if status, body := c.Do("GET", "/api/chat/conversations", v.Token, nil); status != http.StatusUnauthorized || !contains(body, "unauthenticated") {
		t.Fatalf("the converted visitor's token on REST: %d %s", status, body)
	}
	testkit.Eventually(t, 10*time.Second, "the visitor's live MQTT connection closed", func() bool { return !visitor.Paho().IsConnectionOpen() })
	if !mqttRefused(t, c, anon, v.Token) {
		t.Fatal("the converted visitor's token still connects over MQTT")
	}
	if status, body := c.Do("POST", "/api/chat/anonymous", "", map[string]any{"app": "resalice", "deviceId": "device-0123456789abcdef",
		"professionalId": "pro"}); status != http.StatusGone {
		t.Fatalf("the converted device asks for a token again: %d %s, want 410", status, body)
	}
	pro.WaitType("conversation.updated", `"userId":"client-7"`)

	// History, for the client and the professional alike, is the client's.
	for _, user := range []string{"client-7", "pro"} {
		status, body := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("resalice", user, "member"), nil)
		if status != http.StatusOK {
			t.Fatalf("%s's history: %d %s", user, status, body)
		}
		h := testkit.JSON[senders](t, body)
		if len(h.Messages) != 2 {
			t.Fatalf("%s's history: %s", user, body)
		}
		for _, m := range h.Messages {
			if m.Content == "bonjour, une question" && (m.SenderID != "client-7" || m.SenderType != "user") {
				t.Fatalf("%s sees the visitor's message as %s (%s), want client-7 (user)", user, m.SenderID, m.SenderType)
			}
		}
	}
	status, body = c.Do("GET", "/api/chat/sync?since=0", c.Token("resalice", "client-7", "member"), nil)
	if status != http.StatusOK || !contains(body, `"conversation.updated"`) || contains(body, anon+`","senderType"`) ||
		!contains(body, `"senderId":"client-7","senderType":"user","content":"bonjour, une question"`) {
		t.Fatalf("the client's sync: %d %s", status, body)
	}

	// The client, signed in with the real account, talks in the same conversation.
	client := resaliceClient(t, c, "client-7", c.Token("resalice", "client-7", "member"))
	resaliceSend(client, conv, "c-1", "c'est encore moi")
	pro.WaitType("message.new", "c'est encore moi")

	// Converting again: to the same client changes nothing, to another is refused.
	last = c.LastSeq()
	if status, body := c.Do("POST", "/api/chat/anonymous/"+anon+"/convert", c.Token("resalice", "pro", "member"), map[string]string{"userId": "client-7"}); status != http.StatusOK {
		t.Fatalf("converting again to the same client: %d %s", status, body)
	}
	if status, body := c.Do("POST", "/api/chat/anonymous/"+anon+"/convert", c.Token("resalice", "pro", "member"), map[string]string{"userId": "client-8"}); status != http.StatusConflict {
		t.Fatalf("converting to another client: %d %s, want 409", status, body)
	}
	if c.LastSeq() != last {
		t.Fatal("converting again appended to the log")
	}
}

func TestTransferredConversationReachesOnlyTheNewProfessional(t *testing.T) {
	c := daemontest.Chatd(t)
	v := startVisit(t, c, "device-transfer-0000000001", "pro", http.StatusCreated)
	anon, conv := v.AnonymousUser.ID, v.Conversation.ID
	pro := resaliceClient(t, c, "pro", c.Token("resalice", "pro", "member"))
	pro2 := resaliceClient(t, c, "pro2", c.Token("resalice", "pro2", "member"))
	visitor := resaliceClient(t, c, anon, v.Token)
	resaliceSend(visitor, conv, "v-1", "avant le transfert")
	pro.WaitType("message.new", "avant le transfert")

	status, body := c.Do("POST", "/api/chat/conversations/"+conv+"/transfer", c.Token("resalice", "pro", "member"), map[string]string{"toUserId": "pro2"})
	if status != http.StatusOK || !contains(body, `"userId":"pro2"`) || contains(body, `"userId":"pro"`) {
		t.Fatalf("transfer: %d %s", status, body)
	}
	left := pro.WaitType("member.left", `"userId":"pro"`)
	visitor.WaitType("member.joined", `"userId":"pro2"`)
	told := visitor.WaitType("conversation.updated", `"transferred":{"from":["pro"],"to":"pro2","by":"pro"}`)
	if contains(told.Data, `"userId":"pro",`) {
		t.Fatalf("the client is told the first professional is still there: %s", told.Data)
	}
	resaliceSend(visitor, conv, "v-2", "après le transfert")
	after := pro2.WaitType("message.new", "après le transfert")

	// The new professional reads the whole history.
	status, body = c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("resalice", "pro2", "member"), nil)
	if status != http.StatusOK || !contains(body, "avant le transfert") {
		t.Fatalf("pro2's history: %d %s", status, body)
	}
	// A sentinel to pro later in the log: one fan-out delivers the log in
	// order, so once pro has it, pro would have had the message too.
	other := startVisit(t, c, "device-transfer-0000000002", "pro", http.StatusCreated)
	pro.WaitType("conversation.created", other.Conversation.ID)
	for _, r := range pro.Received() {
		if r.Seq > left.Seq && contains(r.Data, conv) {
			t.Fatalf("the first professional received %s %s after leaving (message at %d)", r.Type, r.Data, after.Seq)
		}
	}
	if status, _ := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("resalice", "pro", "member"), nil); status != http.StatusForbidden {
		t.Fatalf("the first professional's history after the transfer: %d, want 403", status)
	}
	// Retrying the transfer appends nothing; pro is not its professional any more.
	last := c.LastSeq()
	if status, body := c.Do("POST", "/api/chat/conversations/"+conv+"/transfer", c.Token("resalice", "pro2", "member"), map[string]string{"toUserId": "pro2"}); status != http.StatusOK {
		t.Fatalf("transfer to its own professional: %d %s", status, body)
	}
	if status, _ := c.Do("POST", "/api/chat/conversations/"+conv+"/transfer", c.Token("resalice", "pro", "member"), map[string]string{"toUserId": "pro"}); status != http.StatusForbidden {
		t.Fatalf("transfer back by the professional who left: %d, want 403", status)
	}
	if c.LastSeq() != last {
		t.Fatal("refused or empty transfers appended to the log")
	}
}

func TestAnonymousTokenReachesNothingButItsOwnConversation(t *testing.T) {
	c := daemontest.Chatd(t)
	v := startVisit(t, c, "device-zeroleak-000000001", "pro", http.StatusCreated)
	anon := v.AnonymousUser.ID
	bob := c.Token("resalice", "bob", "member")
	status, body := c.Do("POST", "/api/chat/conversations", bob, map[string]any{"type": "group", "title": "staff", "participantIds": []string{"pro"}})
	if status != http.StatusCreated {
		t.Fatalf("staff group: %d %s", status, body)
	}
	staff := testkit.JSON[struct{ ID string }](t, body).ID
	last := c.LastSeq()
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/api/chat/conversations", map[string]any{"type": "one_to_one", "participantIds": []string{"bob"}}, http.StatusForbidden},
		{"GET", "/api/chat/conversations/" + staff, nil, http.StatusForbidden},
		{"GET", "/api/chat/conversations/" + staff + "/messages", nil, http.StatusForbidden},
		{"POST", "/api/chat/conversations/" + staff + "/participants", map[string]any{"userId": anon}, http.StatusForbidden},
		{"POST", "/api/chat/conversations/" + v.Conversation.ID + "/transfer", map[string]any{"toUserId": "bob"}, http.StatusForbidden},
		{"POST", "/api/chat/anonymous/" + anon + "/convert", map[string]any{"userId": "bob"}, http.StatusForbidden},
	} {
		if status, body := c.Do(tc.method, tc.path, v.Token, tc.body); status != tc.want {
			t.Errorf("%s %s with the visitor's token: %d %s, want %d", tc.method, tc.path, status, body, tc.want)
		}
	}
	// Over MQTT: its own topics only, in its own application.
	visitor := resaliceClient(t, c, anon, v.Token)
	for _, filter := range []string{"resalice/user/pro/#", "resalice/user/+/messages", "chat/user/" + anon + "/#", "#"} {
		tok := visitor.Paho().Subscribe(filter, 1, nil)
		if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", filter, tok.Error())
		}
		if code := tok.(*paho.SubscribeToken).Result()[filter]; code < 0x80 {
			t.Errorf("the visitor subscribed to %s (code %#x)", filter, code)
		}
	}
	resaliceSend(visitor, staff, "x-1", "let me in")
	visitor.WaitType("moderation.result", `"reason":"not_member"`)
	// Another application's chatd user with the same id sees nothing of it.
	if status, _ := c.Do("GET", "/api/chat/conversations/"+v.Conversation.ID, c.Token("geosector", anon, "member"), nil); status != http.StatusNotFound && status != http.StatusForbidden {
		t.Errorf("the visitor's conversation read from geosector: %d", status)
	}
	if status, _ := c.Do("POST", "/api/chat/anonymous/"+anon+"/convert", c.Token("geosector", "pro", "member"), map[string]any{"userId": "x"}); status != http.StatusNotFound {
		t.Errorf("a geosector professional converts a resalice visitor: %d, want 404", status)
	}
	testkit.Eventually(t, 10*time.Second, "the refused send decided", func() bool { return c.LastSeq() >= last+2 })
	if n := c.LastSeq(); n != last+2 { // the refused send and its rejection, nothing else
		t.Fatalf("the log moved from %d to %d", last, n)
	}
}

func TestAnonymousRateLimitHoldsWhileOtherVisitorsAreServed(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) {
		l := &cfg.Apps["resalice"].Limits
		l.AnonymousDeviceBurst, l.AnonymousPerDevicePerMinute = 2, 1
		l.AnonymousAddressBurst, l.AnonymousPerAddressPerMinute = 6, 1
	})
	start := func(device string) (int, http.Header) {
		b, _ := json.Marshal(map[string]string{"app": "resalice", "deviceId": device, "professionalId": "pro"})
		req, _ := http.NewRequest("POST", "http://"+c.HTTPAddr()+"/api/chat/anonymous", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	flood := "device-flood-0000000000"
	for i := range 2 {
		if status, _ := start(flood); status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("visit %d of the device: %d", i, status)
		}
	}
	status, h := start(flood)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("third visit of one device: %d, Retry-After %q; want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	// Other devices from the same address are still served…
	for _, d := range []string{"device-other-000000001", "device-other-000000002", "device-other-000000003"} {
		if status, _ := start(d); status != http.StatusCreated {
			t.Fatalf("another visitor %s: %d, want 201 while one device floods", d, status)
		}
	}
	// …until the address itself has had its share.
	if status, h := start("device-other-000000004"); status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("past the address's burst: %d", status)
	}
}

func TestAnonymousChatIsRefusedWhereTheApplicationTurnedItOff(t *testing.T) {
	c := daemontest.Chatd(t)
	last := c.LastSeq()
	status, body := c.Do("POST", "/api/chat/anonymous", "", map[string]any{"app": "geosector", "deviceId": "device-0123456789abcdef", "professionalId": "alice"})
	if status != http.StatusForbidden || !contains(body, "forbidden") {
		t.Fatalf("geosector visitor: %d %s, want 403", status, body)
	}
	if c.LastSeq() != last {
		t.Fatal("a refused visit appended to the log")
	}
}

// The log holds conversions and transfers as events; rebuilding the read
// model from it, in batches that split them from what they rewrite,
// reproduces the live model row for row.
func TestReplayReproducesConvertedAndTransferredConversations(t *testing.T) {
	c := daemontest.Chatd(t)
	pro := resaliceClient(t, c, "pro", c.Token("resalice", "pro", "member"))
	for i, device := range []string{"device-replay-000000001", "device-replay-000000002"} {
		v := startVisit(t, c, device, "pro", http.StatusCreated)
		visitor := resaliceClient(t, c, v.AnonymousUser.ID, v.Token)
		resaliceSend(visitor, v.Conversation.ID, "v-1", fmt.Sprint("question ", i))
		msg := pro.WaitType("message.new", fmt.Sprint("question ", i))
		id := testkit.JSON[struct{ ID string }](t, msg.Data).ID
		visitor.Publish("resalice/cmd/"+v.AnonymousUser.ID+"/read", map[string]string{"conversationId": v.Conversation.ID, "messageId": id})
		pro.WaitType("read.receipt", id)
		if i == 0 {
			if status, body := c.Do("POST", "/api/chat/anonymous/"+v.AnonymousUser.ID+"/convert", c.Token("resalice", "pro", "member"),
				map[string]string{"userId": "client-1"}); status != http.StatusOK {
				t.Fatalf("convert: %d %s", status, body)
			}
		}
		if status, body := c.Do("POST", "/api/chat/conversations/"+v.Conversation.ID+"/transfer", c.Token("resalice", "pro", "member"),
			map[string]string{"toUserId": "pro2"}); status != http.StatusOK {
			t.Fatalf("transfer: %d %s", status, body)
		}
	}
	for _, batch := range []int{1, 4, 1000} {
		sum, err := (&projections.Replay{DatabaseURL: c.Cfg.DatabaseURL, JS: c.JetStream(), Live: c.Cfg.DBSchema, Apps: c.Cfg.Apps,
			Log: testkit.Logger(t), Target: fmt.Sprint("chat_check_", batch), Verify: true, Batch: batch}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Differences) > 0 || sum.Applied == 0 {
			t.Fatalf("batches of %d: the rebuilt model differs from the live one: %v", batch, sum.Differences)
		}
	}
}

// Visits of one device started at the same moment are decided at the
// conversation's position one after the other: one visitor, one
// conversation, its two events once.
func TestConcurrentVisitsOfOneDeviceMakeOneVisitor(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.Apps["resalice"].Limits.AnonymousDeviceBurst = 100 })
	last := c.LastSeq()
	const n = 6
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := c.Do("POST", "/api/chat/anonymous", "", map[string]any{"app": "resalice",
				"deviceId": "device-concurrent-000001", "professionalId": "pro"})
			if status != http.StatusCreated && status != http.StatusOK {
				t.Errorf("visit: %d %s", status, body)
				ids <- ""
				return
			}
			ids <- testkit.JSON[visit](t, body).Conversation.ID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent visits of one device gave conversations %v", seen)
	}
	if got := c.LastSeq() - last; got != 2 {
		t.Fatalf("concurrent visits appended %d events, want 2 (the conversation and its visitor)", got)
	}
}
