package bridge_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/testkit"
)

var secret = []byte("broker-test-secret-broker-test-secret-01")

// syncBuffer collects log output written from the broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startBroker(t *testing.T, logs io.Writer, origins ...string) *bridge.Broker {
	t.Helper()
	b, err := bridge.StartBroker(bridge.BrokerOptions{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0",
		Secret: secret, Apps: config.Defaults(), WSOrigins: origins,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func token(t *testing.T, user, role string) string {
	tok, err := auth.Mint(secret, "geosector", user, role, "", "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func pahoOptions(url, id, user, password string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(password).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).SetProtocolVersion(4)
}

func dial(t *testing.T, o *paho.ClientOptions) (paho.Client, error) {
	t.Helper()
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatal("connect: no answer")
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(0) })
	}
	return c, tok.Error()
}

func wait(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("no answer or error: %v", tok.Error())
	}
}

// A refused 60 KB publish and a 10 KB username leave only a few lines of
// log: no payload, and user-supplied strings cut short.
func TestRefusedInputLeavesBoundedLogs(t *testing.T) {
	logs := &syncBuffer{}
	b := startBroker(t, logs)
	url := "tcp://" + b.Addr()
	long := strings.Repeat("u", 10*1024)
	if _, err := dial(t, pahoOptions(url, "long-name", long, "not-a-token")); err == nil {
		t.Fatal("a bad token was accepted")
	}
	alice, err := dial(t, pahoOptions(url, "alice-1", "alice", token(t, "alice", "member")))
	if err != nil {
		t.Fatal(err)
	}
	// Not alice's topic: refused, and the broker disconnects her.
	alice.Publish("chat/user/bob/messages", 1, false, bytes.Repeat([]byte{'7'}, 60*1024))
	testkit.Eventually(t, 15*time.Second, "the refused publish to be logged", func() bool {
		return strings.Contains(logs.String(), "error processing packet")
	})
	out := logs.String()
	if len(out) > 4096 {
		t.Fatalf("%d bytes of log for two refusals:\n%.2000s", len(out), out)
	}
	if strings.Contains(out, strings.Repeat("u", 200)) || strings.Contains(out, "55 55 55") || strings.Contains(out, "7777777777") {
		t.Fatalf("the log holds the username or the payload:\n%s", out)
	}
	if !strings.Contains(out, "…(10240 bytes)") {
		t.Fatalf("the long username is not marked as cut:\n%s", out)
	}
}

// Retain is not available: an MQTT 3.1.1 retained publish is handled as a
// plain one and nothing is kept for later subscribers.
func TestRetainedPublishIsNotStored(t *testing.T) {
	b := startBroker(t, io.Discard)
	url := "tcp://" + b.Addr()
	alice, err := dial(t, pahoOptions(url, "alice-1", "alice", token(t, "alice", "member")))
	if err != nil {
		t.Fatal(err)
	}
	// The broker acknowledges a publish before routing it: a subscriber
	// already there tells when the retained publish has been handled.
	routed := make(chan []byte, 8)
	early, err := dial(t, pahoOptions(url, "svc-0", "chat-bridge", token(t, "chat-bridge", auth.RoleService)))
	if err != nil {
		t.Fatal(err)
	}
	wait(t, early.Subscribe("chat/cmd/#", 1, func(_ paho.Client, m paho.Message) { routed <- m.Payload() }))
	wait(t, alice.Publish("chat/cmd/alice/send", 1, true, `{"retained":true}`))
	select {
	case <-routed:
	case <-time.After(15 * time.Second):
		t.Fatal("the retained publish was never routed")
	}

	got := make(chan []byte, 8)
	svc, err := dial(t, pahoOptions(url, "svc-1", "chat-bridge", token(t, "chat-bridge", auth.RoleService)))
	if err != nil {
		t.Fatal(err)
	}
	wait(t, svc.Subscribe("chat/cmd/#", 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }))
	wait(t, alice.Publish("chat/cmd/alice/send", 1, false, `{"marker":true}`))
	select {
	case p := <-got:
		if string(p) != `{"marker":true}` {
			t.Fatalf("a later subscriber first received %s: a retained message was kept", p)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the marker never arrived")
	}
}

// MQTT 5 clients are told retain is unavailable, and a retained publish is
// a protocol error that ends the connection with "retain not supported".
func TestRetainedPublishEndsAnMQTT5Connection(t *testing.T) {
	b := startBroker(t, io.Discard)
	nc, err := net.DialTimeout("tcp", b.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	connect := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0xC2, 0, 60, 0}, str("alice-v5")...)
	connect = append(append(connect, str("alice")...), str(token(t, "alice", "member"))...)
	writePacket(t, nc, 0x10, connect)
	typ, body := readPacket(t, nc)
	if typ != 0x20 || len(body) < 2 || body[1] != 0 {
		t.Fatalf("CONNACK: type %#x body %v", typ, body)
	}
	if !bytes.Contains(body[2:], []byte{0x25, 0}) {
		t.Fatalf("CONNACK properties do not say retain is unavailable: %v", body[2:])
	}
	publish := append(str("chat/cmd/alice/send"), 0, 1, 0)
	writePacket(t, nc, 0x33, append(publish, `{"retained":true}`...))
	typ, body = readPacket(t, nc)
	if typ != 0xE0 || len(body) < 1 || body[0] != 0x9A {
		t.Fatalf("after a retained publish: type %#x body %v, want DISCONNECT 0x9A", typ, body)
	}
}

func str(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }

func writePacket(t *testing.T, w io.Writer, hdr byte, body []byte) {
	t.Helper()
	pk := append([]byte{hdr}, binary.AppendUvarint(nil, uint64(len(body)))...)
	if _, err := w.Write(append(pk, body...)); err != nil {
		t.Fatal(err)
	}
}

func readPacket(t *testing.T, r io.Reader) (byte, []byte) {
	t.Helper()
	var hdr [1]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatal(err)
	}
	n, err := binary.ReadUvarint(byteReader{r})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return hdr[0] & 0xF0, body
}

type byteReader struct{ io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var p [1]byte
	_, err := io.ReadFull(b.Reader, p[:])
	return p[0], err
}

// The WebSocket listener takes browsers only from listed origins; clients
// that send no Origin (native apps) are accepted.
func TestWebSocketRefusesUnlistedOrigins(t *testing.T) {
	b := startBroker(t, io.Discard, "https://app.example.com")
	url := "ws://" + b.WSAddr() + "/mqtt"
	for origin, allowed := range map[string]bool{
		"https://app.example.com":  true,
		"":                         true,
		"https://evil.example.com": false,
		"http://app.example.com":   false,
	} {
		o := pahoOptions(url, "alice-ws", "alice", token(t, "alice", "member"))
		if origin != "" {
			o.SetHTTPHeaders(http.Header{"Origin": {origin}})
		}
		c, err := dial(t, o)
		if (err == nil) != allowed {
			t.Errorf("origin %q: connect error %v, want allowed=%v", origin, err, allowed)
		}
		if err == nil {
			c.Disconnect(0)
		}
	}
}

// A Close stuck on the broker's clients map (mochi deadlocks there when a
// connection ends at that moment) returns after its bound with an error, so
// the rest of chatd still stops.
func TestCloseStuckOnTheClientsMapReturnsAfterItsBound(t *testing.T) {
	b := startBroker(t, io.Discard)
	defer bridge.SetCloseWait(50 * time.Millisecond)()
	release := bridge.HoldClients(b)
	defer release()
	start := time.Now()
	if err := b.Close(); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Close with the clients map held: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
}
