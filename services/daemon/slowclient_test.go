package daemon_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
)

// metric reads one counter from /metrics.
func metric(t *testing.T, c *daemontest.Chat, name string) float64 {
	t.Helper()
	status, body := c.Do("GET", "/metrics", "", nil)
	if status != http.StatusOK {
		t.Fatalf("metrics: %d", status)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// A client that stops reading neither loses anyone else's messages nor
// makes the broker drop deliveries: fan-out waits, then disconnects it.
func TestSlowClientIsDisconnectedAndNothingIsDropped(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited, func(cfg *config.Config) {
		cfg.ClientQueue, cfg.SlowClientTimeout = 16, 300*time.Millisecond
	})
	dropped0 := metric(t, c, "chat_mqtt_deliveries_dropped_total")
	slow0 := metric(t, c, "chat_mqtt_slow_clients_disconnected_total")
	bob := connect(t, c, "bob")
	conv := group(t, c, "alice", "bob", "sloth")
	sloth, err := mqttlite.DialSlow(c.MQTTAddr(), "sloth-1", "sloth", c.Token("geosector", "sloth", "member"))
	if err != nil {
		t.Fatal(err)
	}
	defer sloth.Close()
	if err := sloth.Subscribe("chat/user/sloth/#", 1); err != nil {
		t.Fatal(err)
	}
	// sloth never reads again.
	alice, err := mqttlite.Dial(c.MQTTAddr(), "alice-1", "alice", c.Token("geosector", "alice", "member"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	go alice.Run()
	const n = 3000
	pad := strings.Repeat("x", 1500)
	for i := range n {
		body := `{"clientMsgId":"s` + strconv.Itoa(i) + `","conversationId":"` + conv + `","content":"m` + strconv.Itoa(i) + ` ` + pad + `"}`
		if err := alice.Publish("chat/cmd/alice/send", []byte(body), 1); err != nil {
			t.Fatal(err)
		}
	}
	// A delivery lost for good stalls bob for ever; a loaded machine only
	// slows him down: each wait is for progress, not for the whole run.
	for got := 0; got < n; got = len(bob.Of("message.new")) {
		bob.Until(fmt.Sprintf("more than %d of %d messages", got, n), func() bool { return len(bob.Of("message.new")) > got })
	}
	if got := len(bob.Of("message.new")); got != n {
		t.Fatalf("bob received %d messages, want %d", got, n)
	}
	if d := metric(t, c, "chat_mqtt_deliveries_dropped_total") - dropped0; d != 0 {
		t.Fatalf("the broker dropped %v deliveries", d)
	}
	if s := metric(t, c, "chat_mqtt_slow_clients_disconnected_total") - slow0; s < 1 {
		t.Fatal("the client that stopped reading was never disconnected")
	}
}
