package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/testkit"
)

// inbox is a client's deliveries by seq and type, as the contract tells
// clients to keep them: a repeat (QoS 1, or sync over what arrived live)
// is dropped.
type inbox struct {
	mu   sync.Mutex
	got  map[string]json.RawMessage // "seq type" → data
	high uint64
	// cursor is where sync goes on from: the highest seq held when the
	// session was found lost, then each page's next. Live deliveries that
	// arrive meanwhile do not move it: one may overtake a delivery the lost
	// session never handed over.
	cursor uint64
}

func (in *inbox) add(payload []byte) {
	var env struct {
		Type string
		Seq  uint64
		Data json.RawMessage
	}
	if json.Unmarshal(payload, &env) != nil || env.Seq == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got[fmt.Sprint(env.Seq, " ", env.Type)] = env.Data
	in.high = max(in.high, env.Seq)
}

// messages counts message.new by client message id.
func (in *inbox) messages(t *testing.T) map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]int{}
	for k, d := range in.got {
		var typ string
		_, _ = fmt.Sscanf(k, "%d %s", new(uint64), &typ)
		if typ != "message.new" {
			continue
		}
		var m struct{ ClientMsgID string }
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		out[m.ClientMsgID]++
	}
	return out
}

// subscribe connects bob's phone with a persistent session and records its
// deliveries; it reports whether the broker had kept a session.
func (in *inbox) subscribe(t *testing.T, p *proc) (paho.Client, bool) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID("bob-phone").
		SetUsername("bob").SetPassword(tok(t, "bob")).SetCleanSession(false).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second))
	ct := c.Connect()
	if !ct.WaitTimeout(15*time.Second) || ct.Error() != nil {
		t.Fatalf("connect bob: %v", ct.Error())
	}
	present := ct.(*paho.ConnectToken).SessionPresent()
	st := c.Subscribe("chat/user/bob/#", 1, func(_ paho.Client, m paho.Message) { in.add(m.Payload()) })
	if !st.WaitTimeout(15*time.Second) || st.Error() != nil {
		t.Fatalf("subscribe bob: %v", st.Error())
	}
	return c, present
}

// sync calls GET /sync from the inbox's cursor to the end, keeping every
// envelope.
func (in *inbox) sync(t *testing.T, p *proc) {
	t.Helper()
	in.mu.Lock()
	since := in.cursor
	in.mu.Unlock()
	for {
		var page struct {
			Events  []json.RawMessage
			Next    uint64
			HasMore bool
		}
		if s := p.get(t, "/api/chat/sync?since="+strconv.FormatUint(since, 10), "bob", &page); s != 200 {
			t.Fatalf("sync from %d: %d", since, s)
		}
		for _, e := range page.Events {
			in.add(e)
		}
		in.mu.Lock()
		in.cursor = page.Next
		in.mu.Unlock()
		if !page.HasMore {
			return
		}
		since = page.Next
	}
}

// chatd killed with SIGKILL while bob's phone, on a persistent session,
// receives a conversation's traffic: after the restart the broker has no
// session for it, so the phone calls sync from the highest seq it holds, and
// ends with every message chatd acknowledged, each once.
func TestKilledChatdSubscriberCatchesUpWithSync(t *testing.T) {
	dir := t.TempDir()
	p := &proc{bin: filepath.Join(dir, "chatd"), data: filepath.Join(dir, "data"), dbu: testkit.Postgres(t)}
	if out, err := exec.Command("go", "build", "-o", p.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build chatd: %v\n%s", err, out)
	}
	p.start(t)
	in := &inbox{got: map[string]json.RawMessage{}}
	phone, _ := in.subscribe(t, p)

	conv := p.aliceAndBob(t)

	const n = 600
	alice, err := mqttlite.Dial(p.mqtt, "alice-crash", "alice", tok(t, "alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	go alice.Run()
	for i := range n {
		testkit.Eventually(t, 20*time.Second, "acknowledgements to keep up", func() bool {
			return int(alice.PubAcks.Load()) >= i-50
		})
		msg := `{"clientMsgId":"k` + strconv.Itoa(i) + `","conversationId":"` + conv + `","content":"n` + strconv.Itoa(i) + `"}`
		if err := alice.Publish("chat/cmd/alice/send", []byte(msg), 1); err != nil {
			break
		}
		if int(alice.PubAcks.Load()) >= n/3 {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			_ = p.cmd.Wait()
			break
		}
	}
	acked := int(alice.PubAcks.Load())
	alice.Close()
	phone.Disconnect(0)
	if acked == 0 || acked >= n {
		t.Fatalf("%d of %d acknowledged: the kill did not land mid-stream", acked, n)
	}
	live := len(in.messages(t))
	t.Logf("%d messages acknowledged before the kill, %d received live", acked, live)

	in.cursor = in.high // the phone holds nothing newer: sync goes on from here
	p.start(t)
	phone, present := in.subscribe(t, p)
	defer phone.Disconnect(0)
	if present {
		t.Fatal("after a kill -9 the broker claims a session it cannot have kept")
	}
	// No session: sync from the cursor, again until the read model, which
	// catches up after the restart, holds every acknowledged message.
	testkit.Eventually(t, 60*time.Second, "every acknowledged message after sync", func() bool {
		in.sync(t, p)
		got := in.messages(t)
		for i := range acked {
			if got["k"+strconv.Itoa(i)] == 0 {
				return false
			}
		}
		return true
	})
	for id, count := range in.messages(t) {
		if count != 1 {
			t.Fatalf("message %s held %d times", id, count)
		}
	}
	_ = os.RemoveAll(p.data)
}
