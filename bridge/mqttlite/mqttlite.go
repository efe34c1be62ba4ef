// Package mqttlite is a lean MQTT 3.1.1 client: enough of the real protocol
// for large populations in load tests and for tests that need a client
// misbehaving in ways a full client will not (never reading, say).
package mqttlite

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is one connection: CONNECT, SUBSCRIBE, PUBLISH at QoS 0/1 both ways,
// PUBACK and PINGREQ, at a fraction of a full client's memory and CPU, so
// ten thousand connections fit beside the server on a small machine.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	mu      sync.Mutex // guards w and nextID
	w       *bufio.Writer
	nextID  uint16
	PubAcks atomic.Int64 // PUBACKs received for QoS 1 publishes
	closed  atomic.Bool
	// onPublish receives every incoming PUBLISH; it runs on the read loop.
	onPublish func(topic string, payload []byte)
}

const (
	pktConnect   = 1
	pktConnack   = 2
	pktPublish   = 3
	pktPuback    = 4
	pktSubscribe = 8
	pktSuback    = 9
	pktPingreq   = 12
	pktPingresp  = 13
)

// Dial connects with a clean session.
func Dial(addr, clientID, user, password string, onPublish func(string, []byte)) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return handshake(nc, clientID, user, password, onPublish)
}

// DialSlow connects with a tiny socket receive buffer, for a client that
// stops reading: the server's queue for it fills after a few messages.
func DialSlow(addr, clientID, user, password string) (*Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return handshake(nc, clientID, user, password, nil)
}

func handshake(nc net.Conn, clientID, user, password string, onPublish func(string, []byte)) (*Conn, error) {
	c := &Conn{nc: nc, r: bufio.NewReaderSize(nc, 4096), w: bufio.NewWriterSize(nc, 4096), onPublish: onPublish}
	var body []byte
	body = appendString(body, "MQTT")
	body = append(body, 4, 0xC2, 0, 120) // level 4, flags: user+password+clean session, keepalive 120 s
	body = appendString(body, clientID)
	body = appendString(body, user)
	body = appendString(body, password)
	if err := c.write(pktConnect<<4, body); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	typ, payload, err := c.readPacket()
	_ = nc.SetReadDeadline(time.Time{})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connack: %w", err)
	}
	if typ != pktConnack || len(payload) < 2 || payload[1] != 0 {
		nc.Close()
		return nil, fmt.Errorf("connect refused (packet %d, %v)", typ, payload)
	}
	return c, nil
}

// Subscribe sends SUBSCRIBE and waits for its SUBACK; call before run.
func (c *Conn) Subscribe(filter string, qos byte) error {
	body := binary.BigEndian.AppendUint16(nil, 1)
	body = appendString(body, filter)
	body = append(body, qos)
	if err := c.write(pktSubscribe<<4|2, body); err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		typ, payload, err := c.readPacket()
		if err != nil {
			return fmt.Errorf("suback: %w", err)
		}
		if typ == pktSuback {
			if len(payload) < 3 || payload[2] >= 0x80 {
				return fmt.Errorf("subscription to %s refused", filter)
			}
			return nil
		}
	}
}

// Publish sends a PUBLISH; at QoS 1 its PUBACK is counted in PubAcks.
func (c *Conn) Publish(topic string, payload []byte, qos byte) error {
	body := appendString(make([]byte, 0, len(topic)+len(payload)+6), topic)
	c.mu.Lock()
	defer c.mu.Unlock()
	if qos > 0 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		body = binary.BigEndian.AppendUint16(body, c.nextID)
	}
	body = append(body, payload...)
	return c.writeLocked(pktPublish<<4|qos<<1, body)
}

// Ping sends PINGREQ.
func (c *Conn) Ping() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(pktPingreq<<4, nil)
}

// Run reads packets until the connection ends: it acknowledges QoS 1
// deliveries and hands every PUBLISH to onPublish.
func (c *Conn) Run() error {
	for {
		typ, p, err := c.readPacket()
		if err != nil {
			if c.closed.Load() {
				return nil
			}
			return err
		}
		switch typ {
		case pktPublish:
			hdr := p[0]
			p = p[1:]
			if len(p) < 2 {
				return errors.New("short publish")
			}
			n := int(binary.BigEndian.Uint16(p))
			if len(p) < 2+n {
				return errors.New("short publish topic")
			}
			topic := string(p[2 : 2+n])
			rest := p[2+n:]
			if qos := (hdr >> 1) & 3; qos > 0 {
				if len(rest) < 2 {
					return errors.New("short publish id")
				}
				id := rest[:2]
				rest = rest[2:]
				c.mu.Lock()
				err = c.writeLocked(pktPuback<<4, []byte{id[0], id[1]})
				c.mu.Unlock()
				if err != nil {
					return err
				}
			}
			if c.onPublish != nil {
				c.onPublish(topic, rest)
			}
		case pktPuback:
			c.PubAcks.Add(1)
		}
	}
}

// Close ends the connection.
func (c *Conn) Close() {
	c.closed.Store(true)
	c.nc.Close()
}

func (c *Conn) write(hdr byte, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(hdr, body)
}

func (c *Conn) writeLocked(hdr byte, body []byte) error {
	var lenBuf [4]byte
	n, l := 0, len(body)
	for {
		b := byte(l % 128)
		l /= 128
		if l > 0 {
			b |= 0x80
		}
		lenBuf[n] = b
		n++
		if l == 0 {
			break
		}
	}
	c.w.WriteByte(hdr)
	c.w.Write(lenBuf[:n])
	c.w.Write(body)
	return c.w.Flush()
}

// readPacket returns a packet's type and body; for PUBLISH the body is
// prefixed with the fixed header byte, which carries the QoS.
func (c *Conn) readPacket() (byte, []byte, error) {
	hdr, err := c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	l, mult := 0, 1
	for i := 0; ; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		l += int(b&127) * mult
		mult *= 128
		if b&128 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
	}
	typ := hdr >> 4
	start := 0
	if typ == pktPublish {
		start = 1
	}
	buf := make([]byte, start+l)
	if start == 1 {
		buf[0] = hdr
	}
	if _, err := io.ReadFull(c.r, buf[start:]); err != nil {
		return 0, nil, err
	}
	return typ, buf, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
