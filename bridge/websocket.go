package bridge

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var originRefused = promauto.NewCounter(prometheus.CounterOpts{
	Name: "chat_mqtt_ws_origin_refused_total",
	Help: "MQTT WebSocket upgrades refused because their Origin is not in CHAT_MQTT_WS_ORIGINS.",
})

// wsListener serves MQTT over WebSocket (subprotocol "mqtt") for the
// embedded broker. Unlike the broker library's own listener it checks the
// Origin header: a browser page from an origin not listed can't open a
// connection with the user's credentials. Native clients send no Origin
// and are accepted.
type wsListener struct {
	id, addr string
	origins  []string
	log      *slog.Logger

	mu  sync.Mutex
	ln  net.Listener
	srv *http.Server
}

func newWSListener(id, addr string, origins []string) *wsListener {
	return &wsListener{id: id, addr: addr, origins: origins}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Protocol() string { return "ws" }

// Address is where the listener listens, with the port chosen for ":0".
func (l *wsListener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *wsListener) Init(log *slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ln, l.log = ln, log
	l.mu.Unlock()
	return nil
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	up := &websocket.Upgrader{Subprotocols: []string{"mqtt"}, CheckOrigin: l.originAllowed,
		HandshakeTimeout: 10 * time.Second}
	l.mu.Lock()
	l.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil) // answers 403 itself for a refused origin
			if err != nil {
				return
			}
			defer c.Close()
			if err := establish(l.id, &wsConn{Conn: c.NetConn(), ws: c}); err != nil {
				l.log.Debug("websocket client ended", "error", err)
			}
		})}
	srv, ln := l.srv, l.ln
	l.mu.Unlock()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.log.Error("websocket listener stopped", "error", err)
	}
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	srv, ln := l.srv, l.ln
	l.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	} else if ln != nil {
		_ = ln.Close()
	}
	closeClients(l.id)
}

// originAllowed accepts a request without Origin (not from a browser), or
// one whose Origin is listed; origins compare case-insensitively.
func (l *wsListener) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || slices.Contains(l.origins, "*") ||
		slices.ContainsFunc(l.origins, func(o string) bool { return strings.EqualFold(o, origin) }) {
		return true
	}
	originRefused.Inc()
	l.log.Warn("security: mqtt websocket origin refused", "origin", origin, "remote", r.RemoteAddr)
	return false
}

// wsConn carries the MQTT byte stream in binary WebSocket messages; the
// underlying connection gives addresses, deadlines and close.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader // the message being read, nil between messages
}

var errTextFrame = errors.New("websocket: MQTT travels in binary messages")

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, errTextFrame
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
