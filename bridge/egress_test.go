package bridge_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/services/testkit"
)

// recorder is a deliverer that keeps what it was sent and what was flushed.
type recorder struct {
	mu      sync.Mutex
	sent    []bridge.Delivery
	flushed int // len(sent) at the last Flush
}

func (r *recorder) Send(d bridge.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, d)
}

func (r *recorder) Flush(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushed = len(r.sent)
	return nil
}

// Spreading deliveries over connections keeps every user's deliveries on one
// of them, in the order sent, and Flush returns only once every connection
// has flushed all of them.
func TestSpreadDelivererKeepsEachUsersOrderAndFlushesEverything(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	parts := []*recorder{{}, {}, {}}
	s := bridge.NewSpreadDeliverer(ctx, []bridge.Deliverer{parts[0], parts[1], parts[2]})
	const users, each = 40, 50
	for i := range each {
		for u := range users {
			s.Send(bridge.Delivery{Topic: fmt.Sprintf("chat/user/u%d/messages", u), Payload: []byte(fmt.Sprint(i))})
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	owner := map[string]int{}
	next := map[string]int{}
	total := 0
	for i, p := range parts {
		p.mu.Lock()
		if p.flushed != len(p.sent) {
			t.Errorf("part %d flushed %d of its %d deliveries", i, p.flushed, len(p.sent))
		}
		if len(p.sent) == 0 {
			t.Errorf("part %d received nothing: deliveries are not spread", i)
		}
		for _, d := range p.sent {
			user := strings.Split(d.Topic, "/")[2]
			if o, ok := owner[user]; ok && o != i {
				t.Fatalf("%s's deliveries went through parts %d and %d", user, o, i)
			}
			owner[user] = i
			if got, want := string(d.Payload), fmt.Sprint(next[user]); got != want {
				t.Fatalf("%s received delivery %s where %s was due", user, got, want)
			}
			next[user]++
			total++
		}
		p.mu.Unlock()
	}
	if total != users*each {
		t.Fatalf("%d deliveries reached the parts, %d sent", total, users*each)
	}
}

// A spread deliverer's Flush covers what was sent before it and returns
// while sends go on: fan-out never stops sending for it.
func TestSpreadDelivererFlushesWhileSendsGoOn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	parts := []*recorder{{}, {}}
	s := bridge.NewSpreadDeliverer(ctx, []bridge.Deliverer{parts[0], parts[1]})
	var sent atomic.Int64
	stop := make(chan struct{})
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Send(bridge.Delivery{Topic: fmt.Sprintf("chat/user/u%d/messages", i%50), Payload: []byte("x")})
			sent.Add(1)
		}
	}()
	defer func() {
		close(stop)
		<-sending
	}()
	testkit.Eventually(t, 10*time.Second, "deliveries under way", func() bool { return sent.Load() >= 5000 })
	before := sent.Load()
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatalf("flush while sends go on: %v", err)
	}
	flushed := 0
	for _, p := range parts {
		p.mu.Lock()
		flushed += p.flushed
		p.mu.Unlock()
	}
	if int64(flushed) < before {
		t.Fatalf("the flush covered %d deliveries, %d were sent before it", flushed, before)
	}
}

// pubackGate is a TCP proxy to a broker that can hold back everything the
// broker sends to the client (its PUBACKs among it) while the client's own
// packets pass.
type pubackGate struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   chan struct{} // closed while the broker's packets pass
}

func newPubackGate(t *testing.T, brokerURL string) *pubackGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &pubackGate{ln: ln, target: strings.TrimPrefix(brokerURL, "tcp://"), open: make(chan struct{})}
	close(g.open)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", g.target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := b.Read(buf)
					if n > 0 {
						<-g.gate()
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	return g
}

func (g *pubackGate) url() string { return "tcp://" + g.ln.Addr().String() }

func (g *pubackGate) gate() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func (g *pubackGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *pubackGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

// A flush waits for the PUBACKs of what was sent before it, and only those:
// sends go on while it waits (the fan-out keeps delivering while a broker's
// acknowledgements travel), and the next flush covers them.
func TestClientDelivererSendsOnWhileAFlushWaits(t *testing.T) {
	users := map[string]string{"chat-bridge": "bridge-pw", "alice": "alice-pw"}
	url := testkit.Mosquitto(t, users)
	g := newPubackGate(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := bridge.Dial(ctx, bridge.ClientOptions{URL: g.url(), ClientID: "chat-fanout", Username: "chat-bridge",
		Password: func() string { return users["chat-bridge"] }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	alice := testkit.Connect(t, url, "chat", "alice", users["alice"])
	d := &bridge.ClientDeliverer{C: c}
	delivery := func(n int) bridge.Delivery {
		return bridge.Delivery{Topic: "chat/user/alice/messages",
			Payload: bridge.Encode(bridge.Outbound{Type: "message.new", Data: map[string]int{"n": n}})}
	}

	g.hold()
	d.Send(delivery(1))
	flushed := make(chan error, 1)
	go func() { flushed <- d.Flush(ctx) }()
	alice.WaitType("message.new", `"n":1`) // the broker has it; its PUBACK is held
	sent := make(chan struct{})
	go func() {
		d.Send(delivery(2))
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(20 * time.Second):
		t.Fatal("a send waited for the flush before it")
	}
	alice.WaitType("message.new", `"n":2`)
	select {
	case err := <-flushed:
		t.Fatalf("the flush returned (%v) before its PUBACK came", err)
	default:
	}
	g.release()
	if err := <-flushed; err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("second flush: %v", err)
	}
}
