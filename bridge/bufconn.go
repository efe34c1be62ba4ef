package bridge

import (
	"bufio"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bufferedConn is the bridge's TCP connection to an external broker. paho
// reads each packet in three reads of the socket (its type, its length, its
// body) and writes each packet with a write of its own: at the steady
// chat's 14,000 deliveries a second through Mosquitto, those system calls
// were a quarter of chatd's CPU. bufferedConn reads through a buffer, and
// its writes only queue the bytes for a flusher goroutine that writes
// everything queued since its previous write in one call. A lone packet
// goes out at once (the flusher is idle and wakes for it); a burst (a group
// message's deliveries, a batch's acknowledgements) shares a few writes.
//
// Order is kept: one queue, one writer. What paho hands over is on the wire
// once a flush takes it, so nothing acknowledged changes meaning: a QoS 1
// delivery still completes only on the broker's PUBACK, which comes after
// the bytes left.
type bufferedConn struct {
	net.Conn
	r       *bufio.Reader
	timeout time.Duration // each flush's write deadline

	mu      sync.Mutex
	drained *sync.Cond // signalled after each flush, and when the connection fails
	queued  []byte
	spare   []byte // the previous flush's buffer, reused
	err     error  // set once: a failed flush or Close; every later Write returns it
	closing bool

	wake     chan struct{} // capacity 1: there is something to flush
	finished chan struct{} // closed when the flusher has returned
}

const (
	// bufferedReadSize is the read buffer: many acknowledgements, or a few
	// commands, per read.
	bufferedReadSize = 16 << 10
	// bufferedQueueMax bounds the bytes queued for the flusher: past it a
	// Write waits, so a broker that stops reading holds paho back as a full
	// socket would, instead of growing the queue.
	bufferedQueueMax = 1 << 20
	// closeFlushWait bounds how long Close waits for the queue (paho's
	// DISCONNECT last) to be written before it closes the socket.
	closeFlushWait = time.Second
)

func newBufferedConn(c net.Conn, writeTimeout time.Duration) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, bufferedReadSize), timeout: writeTimeout,
		wake: make(chan struct{}, 1), finished: make(chan struct{})}
	b.drained = sync.NewCond(&b.mu)
	go b.flush()
	return b
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// Write queues p for the flusher. It waits while the queue is full, and
// returns the flusher's error once a write has failed.
func (b *bufferedConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && !b.closing && len(b.queued) >= bufferedQueueMax {
		b.drained.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.closing {
		return 0, net.ErrClosed
	}
	b.queued = append(b.queued, p...)
	select {
	case b.wake <- struct{}{}:
	default: // already woken: the flusher takes these bytes with the others
	}
	return len(p), nil
}

// flush writes what is queued, all of it at a time, until the connection
// fails or closes.
func (b *bufferedConn) flush() {
	defer close(b.finished)
	for range b.wake {
		b.mu.Lock()
		out := b.queued
		b.queued = b.spare[:0]
		closing := b.closing
		b.mu.Unlock()
		var err error
		if len(out) > 0 {
			var deadline time.Time // none without a timeout
			if b.timeout > 0 {
				deadline = time.Now().Add(b.timeout)
			}
			if err = b.Conn.SetWriteDeadline(deadline); err == nil {
				_, err = b.Conn.Write(out)
			}
		}
		b.mu.Lock()
		if cap(out) <= bufferedQueueMax {
			b.spare = out[:0]
		}
		if err != nil && b.err == nil {
			b.err = err
		}
		failed, done := b.err != nil, closing && len(b.queued) == 0
		b.drained.Broadcast()
		b.mu.Unlock()
		if failed {
			// paho's reader sees the failure and reconnects.
			_ = b.Conn.Close()
			return
		}
		if done {
			return
		}
	}
}

// Close writes what is queued (within closeFlushWait), then closes the
// socket.
func (b *bufferedConn) Close() error {
	b.mu.Lock()
	first := !b.closing
	b.closing = true
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	select {
	case <-b.finished:
	case <-time.After(closeFlushWait):
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.drained.Broadcast()
	b.mu.Unlock()
	return b.Conn.Close()
}

// The flusher sets its own write deadline for each write; paho's deadlines
// bound reads only.
func (b *bufferedConn) SetDeadline(t time.Time) error     { return b.Conn.SetReadDeadline(t) }
func (b *bufferedConn) SetWriteDeadline(time.Time) error  { return nil }
func (b *bufferedConn) SetReadDeadline(t time.Time) error { return b.Conn.SetReadDeadline(t) }

// openBuffered is paho's connection opener for tcp:// and mqtt:// brokers:
// a TCP connection wrapped in a bufferedConn.
func openBuffered(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return newBufferedConn(c, o.WriteTimeout), nil
}

// buffersScheme reports whether openBuffered opens brokers of this URL;
// others (TLS, WebSocket, unix sockets) keep paho's own opener.
func buffersScheme(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && (u.Scheme == "tcp" || u.Scheme == "mqtt")
}
