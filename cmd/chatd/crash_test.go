package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/testkit"
)

const secret = "crash-test-secret-crash-test-secret-0123"

type proc struct {
	cmd            *exec.Cmd
	http, mqtt     string
	bin, data, dbu string
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// apps lifts the per-user command rate: the test sends far faster than a person.
const apps = `applications:
  geosector:
    topicPrefix: chat
    limits: {commandsPerSecond: 100000, commandBurst: 100000}
`

func (p *proc) start(t *testing.T) {
	t.Helper()
	p.http, p.mqtt = freeAddr(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "apps.yaml")
	if err := os.WriteFile(cfg, []byte(apps), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, "--http-addr="+p.http, "--mqtt-addr="+p.mqtt, "--mqtt-ws-addr=off",
		"--nats-addr="+freeAddr(t), "--data-dir="+p.data, "--database-url="+p.dbu, "--jwt-secret="+secret,
		"--config="+cfg)
	var logs bytes.Buffer
	p.cmd.Stdout, p.cmd.Stderr = &logs, &logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	testkit.Eventually(t, 60*time.Second, "chatd ready", func() bool {
		resp, err := http.Get("http://" + p.http + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func tok(t *testing.T, user string) string {
	s, err := auth.Mint([]byte(secret), "geosector", user, "member", "", "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *proc) get(t *testing.T, path, user string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+p.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok(t, user))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// history returns the client message ids in a conversation's history.
// aliceAndBob has alice create a group with bob and returns its id.
func (p *proc) aliceAndBob(t *testing.T) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "group", "participantIds": []string{"bob"}})
	req, _ := http.NewRequest("POST", "http://"+p.http+"/api/chat/conversations", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok(t, "alice"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create group: %v %v", err, resp)
	}
	defer resp.Body.Close()
	var conv struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&conv); err != nil || conv.ID == "" {
		t.Fatalf("create group: %v", err)
	}
	return conv.ID
}

func (p *proc) history(t *testing.T, conv string) (rows int, ids map[string]bool) {
	ids = map[string]bool{}
	before := ""
	for {
		var page struct {
			Messages   []struct{ ClientMsgID string }
			NextBefore uint64
		}
		if s := p.get(t, "/api/chat/conversations/"+conv+"/messages?limit=200"+before, "bob", &page); s != 200 {
			t.Fatalf("history: %d", s)
		}
		for _, m := range page.Messages {
			rows++
			ids[m.ClientMsgID] = true
		}
		if page.NextBefore == 0 {
			return rows, ids
		}
		before = fmt.Sprintf("&before=%d", page.NextBefore)
	}
}

// chatd killed with SIGKILL while a client sends: every message it
// acknowledged is in history after a restart, once, and the client's
// retries of the rest add each once.
func TestKilledUnderLoadLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	p := &proc{bin: filepath.Join(dir, "chatd"), data: filepath.Join(dir, "data"), dbu: testkit.Postgres(t)}
	build := exec.Command("go", "build", "-o", p.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build chatd: %v\n%s", err, out)
	}
	p.start(t)
	// bob holds a persistent session; the broker keeps it in memory only.
	if present := persistentConnect(t, p, "bob-phone"); present {
		t.Fatal("a first connection found a session")
	}
	if present := persistentConnect(t, p, "bob-phone"); !present {
		t.Fatal("the session was not kept while chatd ran")
	}

	conv := p.aliceAndBob(t)

	const n = 600
	msg := func(i int) []byte {
		return []byte(`{"clientMsgId":"k` + strconv.Itoa(i) + `","conversationId":"` + conv + `","content":"n` + strconv.Itoa(i) + `"}`)
	}
	alice, err := mqttlite.Dial(p.mqtt, "alice-crash", "alice", tok(t, "alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	go alice.Run()
	for i := range n {
		testkit.Eventually(t, 20*time.Second, "acknowledgements to keep up", func() bool {
			return int(alice.PubAcks.Load()) >= i-50
		})
		if err := alice.Publish("chat/cmd/alice/send", msg(i), 1); err != nil {
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
	if acked == 0 || acked >= n {
		t.Fatalf("%d of %d acknowledged: the kill did not land mid-stream", acked, n)
	}
	t.Logf("%d of %d messages acknowledged before the kill", acked, n)

	p.start(t) // same binary, data directory and database
	// What the broker held died with it: bob must be told so, and catch up.
	if present := persistentConnect(t, p, "bob-phone"); present {
		t.Fatal("after a kill -9 the broker claims a session it cannot have kept")
	}
	testkit.Eventually(t, 60*time.Second, "acknowledged messages in history", func() bool {
		rows, ids := p.history(t, conv)
		if rows != len(ids) {
			t.Fatalf("history repeats messages: %d rows for %d messages", rows, len(ids))
		}
		for i := range acked {
			if !ids["k"+strconv.Itoa(i)] {
				return false
			}
		}
		return true
	})
	alice, err = mqttlite.Dial(p.mqtt, "alice-crash-2", "alice", tok(t, "alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	go alice.Run()
	for i := range n {
		if err := alice.Publish("chat/cmd/alice/send", msg(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 60*time.Second, "every message in history", func() bool {
		_, ids := p.history(t, conv)
		return len(ids) == n
	})
	if rows, ids := p.history(t, conv); rows != n || len(ids) != n {
		t.Fatalf("history holds %d rows for %d messages, want %d", rows, len(ids), n)
	}
	_ = os.RemoveAll(p.data)
}

// persistentConnect connects bob with a persistent session under clientID,
// disconnects, and reports whether the CONNACK said a session was present.
func persistentConnect(t *testing.T, p *proc, clientID string) bool {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID(clientID).
		SetUsername("bob").SetPassword(tok(t, "bob")).SetCleanSession(false).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second))
	ct := c.Connect()
	if !ct.WaitTimeout(15*time.Second) || ct.Error() != nil {
		t.Fatalf("connect bob: %v", ct.Error())
	}
	defer c.Disconnect(100)
	return ct.(*paho.ConnectToken).SessionPresent()
}
