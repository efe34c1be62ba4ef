package daemon_test

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
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

// A user flooding commands gets rate_limited answers and appends at most its
// burst, while another user's messages keep flowing: bob's round trip to
// carol is measured before and during alice's flood.
func TestCommandFloodIsRateLimitedWhileOthersAreServed(t *testing.T) {
	const burst = 50
	c := daemontest.Chatd(t, func(cfg *config.Config) {
		l := &cfg.Apps["geosector"].Limits
		l.CommandsPerSecond, l.CommandBurst = 1, burst
	})
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	flooded := group(t, c, "alice", "dave")
	quiet := group(t, c, "bob", "carol")
	roundTrip := func(id string) time.Duration {
		start := time.Now()
		send(bob, quiet, id, id)
		carol.WaitType("message.new", `"clientMsgId":"`+id+`"`)
		return time.Since(start)
	}
	var before []time.Duration
	for i := range 10 {
		before = append(before, roundTrip("before-"+strconv.Itoa(i)))
	}

	mallory, err := mqttlite.Dial(c.MQTTAddr(), "alice-flood", "alice", c.Token("geosector", "alice", "member"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.Close()
	go mallory.Run()
	start, floodStart := c.LastSeq(), time.Now()
	const limitedMetric = `chat_commands_total{action="send",result="rate_limited"}`
	limited0 := metric(t, c, limitedMetric)
	stop := make(chan struct{})
	flooding := make(chan int)
	go func() {
		sent := 0
		defer func() { flooding <- sent }()
		for ; sent < 5000; sent++ {
			select {
			case <-stop:
				return
			default:
			}
			body := `{"clientMsgId":"f` + strconv.Itoa(sent) + `","conversationId":"` + flooded + `","content":"spam"}`
			if mallory.Publish("chat/cmd/alice/send", []byte(body), 1) != nil {
				return
			}
		}
	}()
	alice.WaitFor("a rate_limited answer", func(r testkit.Received) bool {
		return r.Type == "command.rejected" && contains(r.Data, `"code":"rate_limited"`) && contains(r.Data, `"retryAfterMs":`)
	})
	var during []time.Duration
	for i := range 10 {
		during = append(during, roundTrip("during-"+strconv.Itoa(i)))
	}
	close(stop)
	sent := <-flooding
	testkit.Eventually(t, 30*time.Second, "the flood acknowledged", func() bool { return int(mallory.PubAcks.Load()) >= sent })
	elapsed := time.Since(floodStart)

	// Appended: bob's 10 messages and their decisions, and for alice her
	// burst plus the one token a second brings back, each with its decision.
	accepted := burst + int(elapsed.Seconds()) + 1
	if grew := c.LastSeq() - start; grew > uint64(2*10+2*accepted) {
		t.Errorf("the flood of %d commands grew the log by %d events, want at most %d", sent, grew, 2*10+2*accepted)
	}
	if n := int(metric(t, c, limitedMetric) - limited0); n < sent-accepted {
		t.Errorf("%d of %d flooding commands answered rate_limited, want all but at most %d", n, sent, accepted)
	}
	p50 := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	b, d := p50(before), p50(during)
	t.Logf("alice flooded %d commands; bob's round trip p50 %v before, %v during", sent, b, d)
	if d > 10*b+250*time.Millisecond {
		t.Errorf("bob's round trip went from %v to %v under alice's flood", b, d)
	}
}

func TestRepeatedBadCredentialsBlockTheAddressAtMQTTConnect(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.AuthFailuresPerMinute = 3 })
	refused0 := metric(t, c, "chat_mqtt_connect_refused_total")
	for i := range 3 {
		if conn, err := mqttlite.Dial(c.MQTTAddr(), "guess", "alice", "not-a-token", nil); err == nil {
			conn.Close()
			t.Fatalf("bad password %d accepted", i+1)
		}
	}
	// The address is out of tries: even a valid token is refused, with
	// "server unavailable" (3) rather than "not authorized" (5).
	_, err := mqttlite.Dial(c.MQTTAddr(), "alice-ok", "alice", c.Token("geosector", "alice", "member"), nil)
	if err == nil || !strings.Contains(err.Error(), "[0 3]") {
		t.Fatalf("valid token from a blocked address: %v, want CONNACK code 3", err)
	}
	if got := metric(t, c, "chat_mqtt_connect_refused_total") - refused0; got != 4 {
		t.Errorf("%v refusals counted, want 4", got)
	}
	// REST shares the count: the same address is refused there too.
	if status, _ := c.Do("GET", "/api/chat/conversations", c.Token("geosector", "alice", "member"), nil); status != http.StatusTooManyRequests {
		t.Errorf("REST from the blocked address answered %d, want 429", status)
	}
}
