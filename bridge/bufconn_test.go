package bridge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// peer is the far end of a loopback TCP connection: what it read, once the
// connection closed.
type peer struct {
	conn net.Conn
	got  chan []byte
}

// dialPeer connects to a listener that reads everything (read true) or
// nothing until the test ends.
func dialPeer(t *testing.T, read bool) (net.Conn, *peer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &peer{got: make(chan []byte, 1)}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
		if read {
			b, _ := io.ReadAll(c)
			p.got <- b
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p.conn = <-accepted
	t.Cleanup(func() { c.Close(); p.conn.Close() })
	return c, p
}

func (p *peer) received(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-p.got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the peer did not see the connection close")
		return nil
	}
}

// gatedConn counts the writes that reach the socket and holds the first
// one until released, as a socket busy with a write would.
type gatedConn struct {
	net.Conn
	writes  atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	if g.writes.Add(1) == 1 {
		close(g.entered)
		<-g.release
	}
	return g.Conn.Write(p)
}

func chunk(i int) []byte {
	return []byte("packet " + strconv.Itoa(i) + ";" + string(bytes.Repeat([]byte{'x'}, i%97)))
}

func TestBufferedConnWritesEverythingInOrderAndBurstsShareAWrite(t *testing.T) {
	c, p := dialPeer(t, true)
	g := &gatedConn{Conn: c, entered: make(chan struct{}), release: make(chan struct{})}
	b := newBufferedConn(g, 5*time.Second)
	var want bytes.Buffer
	write := func(i int) {
		want.Write(chunk(i))
		if n, err := b.Write(chunk(i)); err != nil || n != len(chunk(i)) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	write(0)
	<-g.entered // the flusher is writing packet 0 (and whatever came with it)
	for i := 1; i < 1000; i++ {
		write(i)
	}
	close(g.release)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := p.received(t); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(got), want.Len())
	}
	// 999 packets queued behind a busy write go out in one more.
	if n := g.writes.Load(); n != 2 {
		t.Fatalf("1000 packets took %d writes of the socket, want 2", n)
	}
}

func TestBufferedConnLonePacketGoesOutWithoutWaitingForMore(t *testing.T) {
	c, p := dialPeer(t, false)
	b := newBufferedConn(c, 5*time.Second)
	t.Cleanup(func() { b.Close() })
	if _, err := b.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(p.conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("the peer read %q, %v", buf, err)
	}
}

func TestBufferedConnReadsThroughItsBuffer(t *testing.T) {
	c, p := dialPeer(t, false)
	b := newBufferedConn(c, 5*time.Second)
	t.Cleanup(func() { b.Close() })
	if _, err := p.conn.Write([]byte("\x40\x02\x00\x01\x40\x02\x00\x02")); err != nil { // two PUBACKs
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 8)
	if _, err := io.ReadFull(b, got); err != nil || got[3] != 1 || got[7] != 2 {
		t.Fatalf("read %x, %v", got, err)
	}
}

func TestBufferedConnFailsWritesOnceThePeerIsGone(t *testing.T) {
	c, p := dialPeer(t, false)
	b := newBufferedConn(c, 5*time.Second)
	t.Cleanup(func() { b.Close() })
	p.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = b.Write(bytes.Repeat([]byte{'y'}, 1024))
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	if _, again := b.Write([]byte("z")); !errors.Is(again, err) {
		t.Fatalf("the write after the failure returned %v, want %v", again, err)
	}
}

// A broker that stops reading holds the writer back, then fails it after
// the write timeout, as paho's own deadline did: the queue does not grow
// past its bound meanwhile.
func TestBufferedConnStalledPeerFailsWritesAfterTheTimeout(t *testing.T) {
	c, _ := dialPeer(t, false)
	_ = c.(*net.TCPConn).SetWriteBuffer(4096)
	b := newBufferedConn(c, 300*time.Millisecond)
	t.Cleanup(func() { b.Close() })
	done := make(chan error, 1)
	go func() {
		block := bytes.Repeat([]byte{'s'}, 64<<10)
		for range 1024 { // 64 MiB: far past the socket's buffers and the queue's bound
			if _, err := b.Write(block); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("writes to a stalled peer ended with %v, want a deadline error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("writes to a stalled peer neither failed nor finished")
	}
	b.mu.Lock()
	queued := len(b.queued)
	b.mu.Unlock()
	if queued > bufferedQueueMax+64<<10 {
		t.Fatalf("%d bytes queued, bound %d", queued, bufferedQueueMax)
	}
}

func TestBufferedConnWriteAfterCloseIsRefused(t *testing.T) {
	c, p := dialPeer(t, true)
	b := newBufferedConn(c, 5*time.Second)
	if _, err := b.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a write after Close returned %v, want net.ErrClosed", err)
	}
	if got := p.received(t); string(got) != "last" {
		t.Fatalf("the peer read %q, want what was queued before Close", got)
	}
}

func TestBuffersOnlyPlainTCPBrokers(t *testing.T) {
	for url, want := range map[string]bool{
		"tcp://mosquitto:1883": true, "mqtt://127.0.0.1:1883": true,
		"ssl://broker:8883": false, "ws://broker:8083/mqtt": false, "wss://b/mqtt": false, "unix:///run/m.sock": false, "::bad": false,
	} {
		if got := buffersScheme(url); got != want {
			t.Errorf("buffersScheme(%q) = %v, want %v", url, got, want)
		}
	}
}
