package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/ratelimit"
)

// Security alerts (the user room's security topic): the embedded broker
// tells a user's devices, on {prefix}/user/{user}/security at QoS 1, when
// their account connects from a client it never used, when a connection
// in their name is refused for a bad or revoked token, and when the server
// ends one of their sessions. Alerts are signals, not events: they are
// not in the log, so /sync does not replay them. Each user gets at most
// AlertBurst alerts at once and one more per AlertEvery: a stranger
// knocking with bad tokens cannot flood them. Through an external broker
// (Mosquitto) chatd does not see connections: no alerts.

// KindSecurity is the user room's security topic kind.
const KindSecurity = "security"

// Alert kinds.
const (
	AlertNewClient    = "new_client"
	AlertAuthRefused  = "auth_refused"
	AlertSessionEnded = "session_ended"
)

// maxAlertClientText bounds the client id an alert repeats: MQTT allows
// 65535 bytes.
const maxAlertClientText = 128

// AlertBurst and AlertEvery shape each user's alerts.
const (
	AlertBurst = 3
	AlertEvery = time.Minute
)

// SecurityAlert is the data of security.alert.
type SecurityAlert struct {
	Kind     string `json:"kind"`
	ClientID string `json:"clientId,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Remote   string `json:"remote,omitempty"` // the address, without its port
}

var (
	alertsSent = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chat_security_alerts_total",
		Help: "Security alerts sent to users, by kind, and those held back by the per-user limit (kind limited).",
	}, []string{"kind"})
	alertsLost = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_security_connects_unchecked_total",
		Help: "Connections whose client was not checked for newness: the queue of connections to check was full, or the bucket failed.",
	})
)

// securityAlerts sends the alerts. New clients are checked against the
// clients seen (a JetStream key-value bucket, jet.ClientsSeenConfig) by one
// goroutine, off the connection's path.
type securityAlerts struct {
	srv   *mqtt.Server
	apps  config.Apps
	seen  jetstream.KeyValue // nil: no new-client alerts
	limit *ratelimit.Limiter
	log   *slog.Logger

	connects chan connected
	stop     context.CancelFunc
	done     sync.WaitGroup
}

type connected struct {
	app, user, clientID string
	at                  time.Time
}

func newSecurityAlerts(srv *mqtt.Server, apps config.Apps, seen jetstream.KeyValue, log *slog.Logger) *securityAlerts {
	s := &securityAlerts{srv: srv, apps: apps, seen: seen, log: log,
		limit:    ratelimit.New(ratelimit.Rate{PerSecond: 1 / AlertEvery.Seconds(), Burst: AlertBurst}, time.Now),
		connects: make(chan connected, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if seen != nil {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			s.checkClients(ctx)
		}()
	}
	return s
}

// close stops the goroutine checking new clients.
func (s *securityAlerts) close() {
	s.stop()
	s.done.Wait()
}

// send publishes an alert to user of app, unless the user had their share.
func (s *securityAlerts) send(app, user string, a SecurityAlert) {
	cfg := s.apps[app]
	if cfg == nil {
		return
	}
	if ok, _ := s.limit.Allow(app + "/" + user); !ok {
		alertsSent.WithLabelValues("limited").Inc()
		return
	}
	alertsSent.WithLabelValues(a.Kind).Inc()
	payload := Encode(Outbound{Type: "security.alert", At: time.Now().UTC().Truncate(time.Microsecond), Data: a})
	if err := s.srv.Publish(UserTopic(cfg.TopicPrefix, user, KindSecurity), payload, false, 1); err != nil {
		s.log.Warn("security alert not sent", "app", app, "user", user, "err", err)
	}
}

// connectedFrom queues a successful connection for the new-client check.
func (s *securityAlerts) connectedFrom(app, user, clientID string) {
	if s.seen == nil {
		return
	}
	select {
	case s.connects <- connected{app: app, user: user, clientID: clientID, at: time.Now()}:
	default:
		alertsLost.Inc()
	}
}

func (s *securityAlerts) checkClients(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-s.connects:
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			isNew, err := s.newClient(cctx, c)
			cancel()
			switch {
			case err != nil:
				alertsLost.Inc()
				s.log.Warn("new-client check failed", "app", c.app, "user", c.user, "err", err)
			case isNew:
				s.send(c.app, c.user, SecurityAlert{Kind: AlertNewClient, ClientID: clientText(c.clientID)})
			}
		}
	}
}

// newClient records c's client among its user's and reports whether it is
// one they never used while they had used others. Each key is created
// once: whichever chatd creates it first knows it is new.
func (s *securityAlerts) newClient(ctx context.Context, c connected) (bool, error) {
	at := []byte(c.at.UTC().Format(time.RFC3339))
	user := c.app + "." + c.user
	_, err := s.seen.Create(ctx, user+"."+clientKey(c.clientID), at)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record client of %s: %w", user, err)
	}
	_, err = s.seen.Create(ctx, user+".first", at)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true, nil // they had connected before, from another client
	}
	if err != nil {
		return false, fmt.Errorf("record first client of %s: %w", user, err)
	}
	return false, nil
}

// clientKey names an MQTT client id (any text) as a key token.
func clientKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// refused tells the user named by a refused CONNECT, in the application
// its token names (read without trusting it: only where to send the
// alert). A token that names no application alerts no one.
func (s *securityAlerts) refused(user, token, remote, reason string) {
	app := auth.UnverifiedApp(token)
	if app == "" || !events.ValidID(user) {
		return
	}
	s.send(app, user, SecurityAlert{Kind: AlertAuthRefused, Reason: reason, Remote: host(remote)})
}

// ended tells a user that the server ended one of their sessions.
func (s *securityAlerts) ended(sessionID, reason string) {
	app, rest, _ := strings.Cut(sessionID, "/")
	user, clientID, ok := strings.Cut(rest, "/")
	if ok {
		s.send(app, user, SecurityAlert{Kind: AlertSessionEnded, ClientID: clientText(clientID), Reason: reason})
	}
}

func clientText(id string) string {
	if len(id) > maxAlertClientText {
		id = id[:maxAlertClientText]
	}
	return strings.ToValidUTF8(id, "")
}

func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
