package daemon_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// The bridge and fan-out work the same in front of a real Mosquitto with the
// password file and pattern ACL of deploy/mosquitto.
func TestBridgeWorksWithMosquitto(t *testing.T) {
	users := map[string]string{"chat-bridge": "bridge-secret", "alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
	url := testkit.Mosquitto(t, users)
	c := daemontest.Chatd(t, func(cfg *config.Config) {
		cfg.MQTTURL, cfg.MQTTUser, cfg.MQTTPass = url, "chat-bridge", users["chat-bridge"]
	})
	if c.MQTTAddr() != "" {
		t.Fatal("embedded broker started although an external one is configured")
	}
	alice := testkit.Connect(t, url, "chat", "alice", users["alice"])
	bob := testkit.Connect(t, url, "chat", "bob", users["bob"])
	carol := testkit.Connect(t, url, "chat", "carol", users["carol"])
	conv := group(t, c, "alice", "bob")
	side := group(t, c, "alice", "carol")

	for range 2 {
		send(alice, conv, "via-mosquitto", "hello through mosquitto")
	}
	bob.WaitType("message.new", "hello through mosquitto")
	alice.WaitType("moderation.result", `"status":"approved"`)
	alice.Publish("chat/cmd/alice/send", `{"clientMsgId":`)
	alice.WaitType("command.rejected", "invalid_payload")

	// Mosquitto's file ACL grants any subscription and filters on delivery:
	// carol may subscribe to bob's topics but must receive nothing there.
	var leaked atomic.Int32
	tok := carol.Paho().Subscribe("chat/user/bob/#", 1, func(paho.Client, paho.Message) { leaked.Add(1) })
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("subscribe: no answer")
	}
	send(alice, conv, "for-bob", "second for bob")
	bob.WaitType("message.new", "second for bob")
	send(alice, side, "side", "sentinel")
	carol.WaitType("message.new", "sentinel")
	if n := countContaining(carol.Of("message.new"), "hello through mosquitto"); n != 0 {
		t.Fatal("carol received a message of a conversation she is not in")
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("carol received %d messages from bob's topics", n)
	}
	if n := countContaining(bob.Of("message.new"), "hello through mosquitto"); n != 1 {
		t.Fatalf("bob received the message %d times", n)
	}
	status, body := c.Do("GET", "/readyz", "", nil)
	if status != http.StatusOK {
		t.Fatalf("readyz with mosquitto: %d %s", status, body)
	}
}

// In front of Mosquitto too, a will is a publish under the ACL, and nothing
// is ever retained (deploy/mosquitto: retain_available false).
func TestMosquittoRefusesForeignWillsAndRetainedMessages(t *testing.T) {
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	url := testkit.Mosquitto(t, users)
	dial := func(id string, opts func(*paho.ClientOptions)) (paho.Client, error) {
		o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername("alice").
			SetPassword(users["alice"]).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
		opts(o)
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(15 * time.Second) {
			t.Fatal("connect: no answer")
		}
		return c, tok.Error()
	}
	if c, err := dial("alice-will", func(o *paho.ClientOptions) {
		o.SetWill("chat/user/bob/messages", `{"type":"message.new"}`, 1, true)
	}); err == nil {
		c.Disconnect(0)
		t.Fatal("a will on bob's delivery topic was accepted")
	}
	lost := make(chan error, 1)
	c, err := dial("alice-retain", func(o *paho.ClientOptions) {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	c.Publish("chat/cmd/alice/send", 1, true, `{"clientMsgId":"r1","conversationId":"c1","content":"kept?"}`)
	select {
	case <-lost: // mosquitto ends a connection that asks for retain when retain is unavailable
	case <-time.After(15 * time.Second):
		t.Fatal("a retained publish was taken although retain is unavailable")
	}
}
