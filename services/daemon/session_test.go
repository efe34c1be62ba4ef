package daemon_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// persistent is an MQTT client with a fixed client id and a persistent
// session (clean session off), as `mosquitto_sub -c -i id -q 1`.
type persistent struct {
	c       paho.Client
	present bool

	mu  sync.Mutex
	got []string // message ids of message.new, in arrival order
	bye chan struct{}
}

func dialPersistent(t *testing.T, c *daemontest.Chat, user, clientID string, subscribe bool) (*persistent, error) {
	t.Helper()
	p := &persistent{bye: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.MQTTAddr()).SetClientID(clientID).
		SetUsername(user).SetPassword(c.Token("geosector", user, "member")).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) { close(p.bye) })
	// Messages resent with the session arrive before any subscription of
	// this connection: the default handler takes them.
	opts.SetDefaultPublishHandler(p.record)
	p.c = paho.NewClient(opts)
	tok := p.c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatal("connect: no answer")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	p.present = tok.(*paho.ConnectToken).SessionPresent()
	t.Cleanup(func() { p.c.Disconnect(0) })
	if subscribe {
		st := p.c.Subscribe("chat/user/"+user+"/messages", 1, p.record)
		if !st.WaitTimeout(15*time.Second) || st.Error() != nil {
			t.Fatalf("subscribe: %v", st.Error())
		}
	}
	return p, nil
}

func (p *persistent) record(_ paho.Client, m paho.Message) {
	var env struct {
		Type string
		Data struct{ ClientMsgID string }
	}
	if json.Unmarshal(m.Payload(), &env) != nil || env.Type != "message.new" {
		return
	}
	p.mu.Lock()
	p.got = append(p.got, env.Data.ClientMsgID)
	p.mu.Unlock()
}

func (p *persistent) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

// away disconnects without ending the session.
func (p *persistent) away() { p.c.Disconnect(100) }

// sendAndWait makes alice send n messages to conv, named prefix0…, and
// waits until a connected witness of the conversation has them all: by then
// fan-out has handed each to the broker for every member.
func sendAndWait(t *testing.T, alice, witness *testkit.Client, conv, prefix string, n int) {
	t.Helper()
	for i := range n {
		send(alice, conv, prefix+strconv.Itoa(i), "to the absent "+prefix+strconv.Itoa(i))
	}
	witness.WaitType("message.new", "to the absent "+prefix+strconv.Itoa(n-1))
}

// bob subscribes with a persistent session and goes away; what is sent
// meanwhile reaches him, in order, when he comes back with the same id.
func TestOfflinePersistentSessionGetsEverythingOnReconnect(t *testing.T) {
	c := daemontest.Chatd(t)
	dropped0 := metric(t, c, "chat_mqtt_deliveries_dropped_total")
	alice, carol := connect(t, c, "alice"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	bob, err := dialPersistent(t, c, "bob", "bob-dev", true)
	if err != nil {
		t.Fatal(err)
	}
	if bob.present {
		t.Fatal("a first connection found a session")
	}
	bob.away()
	const n = 30
	sendAndWait(t, alice, carol, conv, "away-", n)

	bob, err = dialPersistent(t, c, "bob", "bob-dev", false)
	if err != nil {
		t.Fatal(err)
	}
	if !bob.present {
		t.Fatal("reconnecting with the same client id found no session")
	}
	testkit.Eventually(t, 20*time.Second, "bob to receive what was sent while he was away", func() bool {
		return len(bob.received()) >= n
	})
	got := bob.received()
	for i := range n {
		if want := "away-" + strconv.Itoa(i); got[i] != want {
			t.Fatalf("delivery %d is %s, want %s (order: %v)", i, got[i], want, got)
		}
	}
	if d := metric(t, c, "chat_mqtt_deliveries_dropped_total") - dropped0; d != 0 {
		t.Fatalf("%v deliveries dropped", d)
	}
}

// Past its queue limit an offline session is ended: the client learns it
// from its CONNACK and catches up, instead of silently missing messages.
func TestOfflineSessionPastItsLimitIsEndedAndCounted(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.SessionQueue = 5 })
	ended0 := metric(t, c, "chat_mqtt_sessions_ended_total")
	alice, carol := connect(t, c, "alice"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	bob, err := dialPersistent(t, c, "bob", "bob-dev", true)
	if err != nil {
		t.Fatal(err)
	}
	bob.away()
	sendAndWait(t, alice, carol, conv, "over-", 8)

	bob, err = dialPersistent(t, c, "bob", "bob-dev", false)
	if err != nil {
		t.Fatal(err)
	}
	if bob.present {
		t.Fatal("a session that passed its limit was kept")
	}
	if e := metric(t, c, "chat_mqtt_sessions_ended_total") - ended0; e != 1 {
		t.Fatalf("sessions ended: %v, want 1", e)
	}
	// The ended session left no subscription behind: bob gets nothing
	// until he subscribes again.
	send(alice, conv, "after", "after the end")
	carol.WaitType("message.new", "after the end")
	if got := bob.received(); len(got) != 0 {
		t.Fatalf("a connection without session received %v", got)
	}
}

// A client id belongs to its user: bob using alice's neither takes her
// session over nor disconnects her.
func TestAnotherUsersClientIDTakesNothingOver(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, err := dialPersistent(t, c, "alice", "phone-1", true)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := dialPersistent(t, c, "bob", "phone-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if bob.present {
		t.Fatal("bob was given alice's session")
	}
	// alice is still connected and still receives.
	carol := connect(t, c, "carol")
	conv := group(t, c, "carol", "alice")
	send(carol, conv, "still-there", "still there")
	testkit.Eventually(t, 20*time.Second, "alice to keep receiving", func() bool {
		return len(alice.received()) == 1
	})
	select {
	case <-alice.bye:
		t.Fatal("alice was disconnected by another user's connection")
	default:
	}
	// Her own reconnection with the same id takes her session over.
	again, err := dialPersistent(t, c, "alice", "phone-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if !again.present {
		t.Fatal("alice's own reconnection found no session")
	}
}

// A will is a publish on the client's behalf: the only one allowed is the
// client's own presence command, not retained.
func TestWillsOnOtherTopicsAreRefusedAtConnect(t *testing.T) {
	c := daemontest.Chatd(t)
	refused0 := metric(t, c, "chat_mqtt_connect_refused_total")
	dial := func(topic string, retain bool) error {
		opts := paho.NewClientOptions().AddBroker("tcp://"+c.MQTTAddr()).SetClientID("will-test").
			SetUsername("alice").SetPassword(c.Token("geosector", "alice", "member")).
			SetAutoReconnect(false).SetConnectTimeout(10*time.Second).SetProtocolVersion(4).
			SetWill(topic, `{"status":"offline"}`, 1, retain)
		cl := paho.NewClient(opts)
		tok := cl.Connect()
		if !tok.WaitTimeout(15 * time.Second) {
			t.Fatal("connect: no answer")
		}
		if tok.Error() == nil {
			cl.Disconnect(0)
		}
		return tok.Error()
	}
	refused := []struct {
		name, topic string
		retain      bool
	}{
		{"another user's delivery topic", "chat/user/bob/messages", false},
		{"another application's topic", "resalice/user/bob/messages", false},
		{"another user's command", "chat/cmd/bob/presence", false},
		{"own command other than presence", "chat/cmd/alice/send", false},
		{"own presence, retained", "chat/cmd/alice/presence", true},
		{"another user's topic, retained", "chat/user/bob/messages", true},
	}
	for _, tc := range refused {
		if err := dial(tc.topic, tc.retain); err == nil {
			t.Errorf("%s: will accepted", tc.name)
		}
	}
	if r := metric(t, c, "chat_mqtt_connect_refused_total") - refused0; r != float64(len(refused)) {
		t.Errorf("refusals counted: %v, want %d", r, len(refused))
	}
	if err := dial("chat/cmd/alice/presence", false); err != nil {
		t.Fatalf("own presence will refused: %v", err)
	}
}
