// Package daemon wires chatd's roles into one process: embedded NATS and MQTT
// broker, bridge, moderation, projector, fan-out and HTTP API, each optional.
// It starts them in dependency order and stops them in reverse.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/projections"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/api"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/fanout"
	"github.com/chatbackend/chat/services/files"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/live"
	"github.com/chatbackend/chat/services/moderation"
	"github.com/chatbackend/chat/services/natsauth"
	"github.com/chatbackend/chat/services/ratelimit"
	"github.com/chatbackend/chat/services/revoked"
	"github.com/chatbackend/chat/services/servicecmd"
	"github.com/chatbackend/chat/services/webhooks"
	chatsql "github.com/chatbackend/chat/sql"
	"github.com/chatbackend/chat/sql/db"
)

// Daemon is a running chatd.
type Daemon struct {
	cfg *config.Config
	log *slog.Logger

	ns *jet.Embedded
	nc *nats.Conn
	js jetstream.JetStream
	// lanes are the connections of chatd's busiest NATS traffic (see
	// lane); natsURL and natsOpts open them as nc was opened.
	lanes    []lane
	natsURL  string
	natsOpts []nats.Option
	// appender appends what the command side decides (the bridge, the
	// Decider, the API), on its own lane where the command side runs.
	appender *jet.Appender
	pool     *pgxpool.Pool
	decider  *decide.Decider // shared by every command-side role here
	sealer   *webhooks.Sealer
	// revoked are the tokens that no longer work (converted visitors),
	// folded from the log before the broker and the API accept any.
	revoked  *revoked.Set
	files    *files.Store // uploaded files, where the API runs
	broker   *bridge.Broker
	clients  []paho.Client
	http     *http.Server
	httpAddr string

	// authFailures counts failed authentications by client address, over
	// MQTT and REST alike.
	authFailures *ratelimit.Limiter
	// metrics serves /metrics on its own address; nil when the HTTP
	// address serves it.
	metrics     *http.Server
	metricsAddr string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	failed chan error // the first role that stopped on its own
}

// Start brings up every configured role; on error it stops what it started.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Daemon, err error) {
	d := &Daemon{cfg: cfg, log: log, failed: make(chan error, 1), authFailures: ratelimit.New(cfg.AuthFailureRate(), nil)}
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	if err := d.startNATS(ctx, runCtx); err != nil {
		return nil, err
	}
	needDB := cfg.HasRole(config.RoleProjector) || cfg.HasRole(config.RoleAPI)
	if needDB {
		if d.pool, err = chatsql.Open(ctx, cfg.DatabaseURL, cfg.DBSchema); err != nil {
			return nil, err
		}
	}
	var mark *projections.Watermark
	if cfg.HasRole(config.RoleProjector) {
		mark = projections.NewWatermark(0)
	}
	// Commands about a conversation are decided on its log (services/decide);
	// edits and deletes find their message's conversation in the read model.
	// The command side appends on a lane, and the Decider reads on another.
	commandSide := cfg.HasRole(config.RoleBridge) || cfg.HasRole(config.RoleAPI)
	d.appender = jet.NewAppender(d.js)
	decideJS := d.js
	if commandSide {
		commands, err := d.lane("commands")
		if err != nil {
			return nil, err
		}
		d.appender = jet.NewAppender(commands)
		if decideJS, err = d.lane("decide"); err != nil {
			return nil, err
		}
	}
	d.decider = decide.New(decideJS, d.appender, 0)
	if commandSide {
		// A feed of the log keeps the states it caches current, so most
		// commands are decided without reading the log.
		d.run(runCtx, "decide feed", func(ctx context.Context) error {
			return d.decider.Follow(ctx, log.With("role", "decide"))
		})
	}
	var messages *decide.Messages
	if d.pool != nil {
		messages = &decide.Messages{Decider: d.decider, Locate: d.locator(d.projected(mark))}
	}
	d.revoked = revoked.New()
	revokedFrom, err := d.revoked.Load(ctx, d.js)
	if err != nil {
		return nil, err
	}
	mqttURL := cfg.MQTTURL
	if cfg.EmbeddedBroker() && cfg.HasRole(config.RoleBroker) {
		clientsSeen, err := d.js.CreateOrUpdateKeyValue(ctx, jet.ClientsSeenConfig(jet.StreamOptions{Replicas: cfg.NATSReplicas}))
		if err != nil {
			return nil, fmt.Errorf("declare bucket of clients seen: %w", err)
		}
		if d.broker, err = bridge.StartBroker(bridge.BrokerOptions{
			TCPAddr: cfg.MQTTAddr, WSAddr: cfg.MQTTWSAddr, Secret: cfg.JWTSecret, Apps: cfg.Apps, Log: log,
			MaxQueued: int32(cfg.ClientQueue), ReadBuffer: cfg.ReadBuffer, SlowClientTimeout: cfg.SlowClientTimeout,
			SessionQueue: cfg.SessionQueue, WSOrigins: cfg.WSOrigins, AuthFailures: d.authFailures,
			ClientsSeen: clientsSeen,
			Revoked:     d.revoked.Revoked,
		}); err != nil {
			return nil, err
		}
		mqttURL = "tcp://" + loopback(d.broker.Addr())
		d.revoked.OnRevoke = d.broker.Revoke
	}
	d.run(runCtx, "revoked tokens", func(ctx context.Context) error { return d.revoked.Follow(ctx, d.js, revokedFrom) })
	var ingress *bridge.Ingress
	switch {
	case cfg.HasRole(config.RoleBridge) && d.broker != nil:
		// The embedded broker appends commands itself, before its PUBACK.
		if err := d.broker.Ingest(cfg.Apps, bridge.NewCommandLimits(cfg.Apps), d.appender, messages, d.nc.Publish, log.With("role", "bridge")); err != nil {
			return nil, err
		}
	case cfg.HasRole(config.RoleBridge):
		ingress = bridge.NewIngress(cfg.Apps, d.appender, log.With("role", "bridge"))
		ingress.Limits = bridge.NewCommandLimits(cfg.Apps)
		ingress.Messages = messages
		ingress.RelayLive(d.nc.Publish)
		c, err := d.dial(ctx, mqttURL, "chat-bridge", true, ingress.Subscribe, ingress.Handle)
		if err != nil {
			return nil, err
		}
		ingress.Reply = d.deliverer(c)
		d.run(runCtx, "bridge", ingress.Run)
	}
	if cfg.HasRole(config.RoleBridge) {
		// Internal services' sends over NATS, next to the clients' over MQTT.
		sends := &servicecmd.Sends{Apps: cfg.Apps, Decider: d.decider, Limits: bridge.NewCommandLimits(cfg.Apps),
			Log: log.With("role", "service-sends"), Now: time.Now}
		sub, err := sends.Subscribe(d.nc)
		if err != nil {
			return nil, err
		}
		d.run(runCtx, "service sends", func(ctx context.Context) error {
			<-ctx.Done()
			return sub.Drain()
		})
	}
	if cfg.HasRole(config.RoleModeration) {
		// The configured rules go into the log once; from then on the log
		// decides (PUT /moderation/rules).
		if err := moderation.SeedRules(ctx, d.js, cfg.Apps, time.Now()); err != nil {
			return nil, err
		}
		modJS, err := d.lane("moderation")
		if err != nil {
			return nil, err
		}
		dur := &jet.Durable{JS: modJS, Name: jet.ConsumerModeration, Log: log.With("role", "moderation"),
			Filter: moderation.Subjects(), Handler: moderation.New(cfg.Apps, jet.NewAppender(modJS), log.With("role", "moderation"))}
		d.run(runCtx, "moderation", dur.Run)
	}
	var stall *projections.StallWatch
	if cfg.HasRole(config.RoleProjector) {
		projJS, err := d.lane("projector")
		if err != nil {
			return nil, err
		}
		p := &projections.Projector{Pool: d.pool, JS: projJS, Log: log.With("role", "projector"), Watermark: mark, Apps: cfg.Apps}
		d.run(runCtx, "projector", p.Run)
	}
	if cfg.HasRole(config.RoleFanout) {
		var out bridge.Deliverer
		var liveOut live.Deliver
		if d.broker != nil {
			out = &bridge.BrokerDeliverer{B: d.broker}
			liveOut = func(x bridge.Delivery) { _ = d.broker.PublishLive(x.Topic, x.Payload) }
		} else {
			// Several connections, each user's deliveries through one of
			// them, so their writers work in parallel and a user still
			// receives in order.
			parts := make([]bridge.Deliverer, fanoutConnections)
			var first paho.Client
			for i := range parts {
				id := "chat-fanout"
				if i > 0 {
					id = fmt.Sprintf("chat-fanout-%d", i)
				}
				c, err := d.dial(ctx, mqttURL, id, false, nil, nil)
				if err != nil {
					return nil, err
				}
				if i == 0 {
					first = c
				}
				parts[i] = d.deliverer(c)
			}
			out = bridge.NewSpreadDeliverer(runCtx, parts)
			liveOut = func(x bridge.Delivery) { first.Publish(x.Topic, 0, false, x.Payload) }
		}
		fan := fanout.New(cfg.Apps, out)
		fanJS, err := d.lane("fanout")
		if err != nil {
			return nil, err
		}
		dur := &jet.Durable{JS: fanJS, Name: jet.ConsumerFanout, Log: log.With("role", "fanout"), Handler: fan}
		d.run(runCtx, "fanout", dur.Run)
		// Typing, focus and presence are routed next to fan-out, with the
		// membership it folds from the log.
		if err := d.relayLive(runCtx, live.New(fan, liveOut, log.With("role", "live"))); err != nil {
			return nil, err
		}
	}
	if d.sealer, err = webhooks.NewSealer(cfg.JWTSecret); err != nil {
		return nil, err
	}
	if cfg.HasRole(config.RoleWebhooks) {
		hooksJS, err := d.lane("webhooks")
		if err != nil {
			return nil, err
		}
		m := &webhooks.Manager{JS: hooksJS, Sealer: d.sealer, Settings: cfg.Webhooks, Log: log.With("role", "webhooks")}
		d.run(runCtx, "webhooks", m.Run)
	}
	if cfg.HasRole(config.RoleAPI) || cfg.HasRole(config.RoleProjector) {
		stall = d.watchProjector(mark)
		d.run(runCtx, "projector watch", stall.Run)
	}
	if cfg.HasRole(config.RoleAPI) {
		if d.files, err = files.Open(ctx, d.js); err != nil {
			return nil, err
		}
		j := &files.Janitor{Store: d.files, Decider: d.decider, OrphanAfter: cfg.FileOrphanAfter, Now: time.Now,
			Log: log.With("role", "files")}
		d.run(runCtx, "files janitor", j.Run)
		if err := d.startHTTP(mark, ingress, stall); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// A lane is a NATS connection of its own for one of chatd's busy flows:
// the command side's appends, the Decider's reads, and each consumer of the
// whole log with the appends it makes. On a single connection every reply
// and delivery waits behind the others in one stream of bytes: an append's
// acknowledgement queued behind the batches being delivered to the
// projector and fan-out, and a consumer's events behind another's. Order
// never relied on sharing: each flow keeps its own on its own lane.
type lane struct {
	name string
	nc   *nats.Conn
}

// lane opens a connection named chatd-{name}, as the main one was opened.
func (d *Daemon) lane(name string) (jetstream.JetStream, error) {
	nc, err := nats.Connect(d.natsURL, slices.Concat(d.natsOpts, []nats.Option{nats.Name("chatd-" + name)})...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s as chatd-%s: %w", redact(d.natsURL), name, err)
	}
	d.lanes = append(d.lanes, lane{name, nc})
	return jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
}

// relayLive feeds chat.live signals to r, one at a time, until chatd stops.
func (d *Daemon) relayLive(ctx context.Context, r *live.Relay) error {
	sub, err := d.nc.Subscribe(bridge.LiveWildcard, func(m *nats.Msg) { r.Handle(m.Data) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", bridge.LiveWildcard, err)
	}
	d.run(ctx, "live", func(ctx context.Context) error {
		<-ctx.Done()
		return sub.Unsubscribe()
	})
	return nil
}

// startNATS runs the embedded server (or reaches the external one), connects
// as chatd and declares the streams. The embedded server accepts chatd and
// the service accounts the log records, followed live.
func (d *Daemon) startNATS(ctx, runCtx context.Context) error {
	url := d.cfg.NATSURL // an external server's credentials are in the URL
	opts := []nats.Option{nats.Name("chatd"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	var secret string
	if d.cfg.EmbeddedNATS() {
		var err error
		if secret, err = d.cfg.NATSSecret(); err != nil {
			return err
		}
		ns, err := jet.StartEmbedded(d.cfg.NATSAddr, d.cfg.DataDir, natsauth.Users(secret, secret, nil))
		if err != nil {
			return err
		}
		// In process: no loopback TCP between chatd and its own server.
		d.ns, url = ns, ns.ClientURL()
		opts = append(opts, nats.InProcessServer(ns), nats.UserInfo(natsauth.ChatdUser, secret))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to nats %s: %w", redact(url), err)
	}
	d.nc, d.natsURL, d.natsOpts = nc, url, opts
	if d.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := jet.EnsureStreams(ctx, d.js, jet.StreamOptions{DuplicateWindow: d.cfg.DedupWindow, Replicas: d.cfg.NATSReplicas}); err != nil {
		return err
	}
	if d.ns == nil {
		return nil // an external server's users are its operator's (deploy/nats)
	}
	return d.followServiceAccounts(ctx, runCtx, secret)
}

// followServiceAccounts gives the embedded server the service accounts the
// log records, then each new one as it is appended, so a service connects a
// moment after `chatctl service` without a restart.
func (d *Daemon) followServiceAccounts(ctx, runCtx context.Context, secret string) error {
	services, next, err := natsauth.Load(ctx, d.js)
	if err != nil {
		return err
	}
	if err := d.ns.SetUsers(natsauth.Users(secret, secret, services)); err != nil {
		return err
	}
	log := d.log.With("role", "nats-accounts")
	d.run(runCtx, "nats-accounts", func(ctx context.Context) error {
		return natsauth.Watch(ctx, d.js, next, func(s natsauth.Service) error {
			if slices.Contains(services, s) {
				return nil
			}
			services = append(services, s)
			log.Info("service account added", "app", s.App, "service", s.Name, "user", s.User())
			return d.ns.SetUsers(natsauth.Users(secret, secret, services))
		})
	})
	return nil
}

// redact hides a URL's password, for messages and logs.
func redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// fanoutConnections is how many MQTT connections fan-out publishes through
// to an external broker: Mosquitto reads a few thousand publishes a second
// from one connection at most (deploy/mosquitto/README.md).
const fanoutConnections = 16

// dial connects one of chatd's own MQTT clients.
func (d *Daemon) dial(ctx context.Context, url, id string, manualAck bool, onConnect func(paho.Client), onMessage paho.MessageHandler) (paho.Client, error) {
	password := func() string { return d.cfg.MQTTPass }
	if d.broker != nil { // the embedded broker takes a service token, minted fresh at each connect
		password = func() string {
			tok, _ := auth.Mint(d.cfg.JWTSecret, firstApp(d.cfg.Apps), d.cfg.MQTTUser, auth.RoleService, "", "", time.Hour, time.Now())
			return tok
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := bridge.Dial(cctx, bridge.ClientOptions{URL: url, ClientID: id, Username: d.cfg.MQTTUser,
		Password: password, OnConnect: onConnect, OnMessage: onMessage, ManualAck: manualAck})
	if err != nil {
		return nil, err
	}
	d.clients = append(d.clients, c)
	return c, nil
}

func (d *Daemon) deliverer(c paho.Client) bridge.Deliverer {
	if d.broker != nil {
		return &bridge.BrokerDeliverer{B: d.broker}
	}
	return &bridge.ClientDeliverer{C: c}
}

// watchProjector watches the projector's position against the log's head.
func (d *Daemon) watchProjector(mark *projections.Watermark) *projections.StallWatch {
	return &projections.StallWatch{Position: d.projectorPosition(mark), Head: d.logHead, After: d.cfg.ProjectorStall}
}

// projectorPosition is the position the read model has applied: the
// projector's watermark when it runs here, its checkpoint row when it runs
// elsewhere (the row is what every chatd sharing the database sees).
func (d *Daemon) projectorPosition(mark *projections.Watermark) func(context.Context) (uint64, error) {
	if mark == nil {
		q := db.New(d.pool)
		return func(ctx context.Context) (uint64, error) { return projections.Checkpoint(ctx, q) }
	}
	return func(context.Context) (uint64, error) { return mark.Position(), nil }
}

// projected waits until the read model includes position seq, up to ctx:
// the projector's watermark when it runs here, its checkpoint otherwise.
func (d *Daemon) projected(mark *projections.Watermark) func(ctx context.Context, seq uint64) bool {
	if mark == nil {
		q := db.New(d.pool)
		return func(ctx context.Context, seq uint64) bool { return pollCheckpoint(ctx, q, seq) }
	}
	return mark.Wait
}

// locator finds a message's conversation in the read model. A message just
// posted may not be there yet: before answering that it is unknown, it
// waits (bounded by the write wait) for the read model to reach the log's
// head and looks again.
func (d *Daemon) locator(projected func(context.Context, uint64) bool) decide.Locator {
	q := db.New(d.pool)
	return func(ctx context.Context, app, id string) (string, error) {
		conv, err := q.MessageConversation(ctx, db.MessageConversationParams{App: app, ID: id})
		if !errors.Is(err, pgx.ErrNoRows) {
			return conv, err
		}
		head, err := d.logHead(ctx)
		if err != nil {
			return "", err
		}
		wctx, cancel := context.WithTimeout(ctx, d.cfg.WriteWait)
		defer cancel()
		if projected(wctx, head) {
			conv, err = q.MessageConversation(ctx, db.MessageConversationParams{App: app, ID: id})
			if !errors.Is(err, pgx.ErrNoRows) {
				return conv, err
			}
		}
		return "", decide.ErrUnknownMessage
	}
}

// logHead is the position of the newest event in the log.
func (d *Daemon) logHead(ctx context.Context) (uint64, error) { return jet.LastSeq(ctx, d.js) }

func (d *Daemon) startHTTP(mark *projections.Watermark, ingress *bridge.Ingress, stall *projections.StallWatch) error {
	projected := d.projected(mark)
	checks := map[string]func(context.Context) error{
		"nats": func(context.Context) error {
			if !d.nc.IsConnected() {
				return errors.New("not connected")
			}
			for _, l := range d.lanes {
				if !l.nc.IsConnected() {
					return fmt.Errorf("chatd-%s not connected", l.name)
				}
			}
			return nil
		},
		"postgres":  func(ctx context.Context) error { return d.pool.Ping(ctx) },
		"projector": stall.Check,
	}
	if ingress != nil {
		checks["broker"] = func(context.Context) error {
			if !ingress.Connected() {
				return errors.New("bridge not subscribed")
			}
			return nil
		}
	}
	a := &api.API{Apps: d.cfg.Apps, Secret: d.cfg.JWTSecret, Append: d.appender, Decide: d.decider,
		Messages: &decide.Messages{Decider: d.decider, Locate: d.locator(projected)},
		Store:    queries.Store{Q: db.New(d.pool), DB: d.pool}, Projected: projected, Position: d.projectorPosition(mark), Head: d.logHead, Checks: checks, WriteWait: d.cfg.WriteWait, Pprof: d.cfg.Pprof,
		Limits:           api.Limits{Writes: ratelimit.NewByApp(d.cfg.Apps.RESTWriteRates()), AuthFailures: d.authFailures},
		JS:               d.js,
		Webhooks:         &webhooks.Admin{JS: d.js, Append: d.appender, Sealer: d.sealer, Now: time.Now},
		MetricsElsewhere: d.cfg.MetricsAddr != "",
		Anonymous: api.AnonymousLimits{Devices: ratelimit.NewByApp(d.cfg.Apps.AnonymousDeviceRates()),
			Addresses: ratelimit.NewByApp(d.cfg.Apps.AnonymousAddressRates())},
		Revoked: d.revoked, Files: d.files}
	// Groups and the user room are decided at their own positions in the log.
	a.Groups, a.Room = decide.NewGroups(d.js, d.appender, 0), decide.NewUserRoom(d.js, d.appender)
	a.Directories = decide.NewDirectories(d.js, a.Append)
	var err error
	if d.http, d.httpAddr, err = d.serve("http", d.cfg.HTTPAddr, a.Handler()); err != nil {
		return err
	}
	if d.cfg.MetricsAddr != "" {
		if d.metrics, d.metricsAddr, err = d.serve("metrics", d.cfg.MetricsAddr, api.MetricsHandler()); err != nil {
			return err
		}
	}
	return nil
}

// serve listens on addr and serves h until Stop; it returns the address
// actually bound.
func (d *Daemon) serve(name, addr string, h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%s listen %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
	return srv, ln.Addr().String(), nil
}

func pollCheckpoint(ctx context.Context, q *db.Queries, seq uint64) bool {
	wait := time.Millisecond
	for {
		if pos, err := projections.Checkpoint(ctx, q); err == nil && pos >= seq {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// run starts a role; a role that returns while chatd is running is fatal.
func (d *Daemon) run(ctx context.Context, name string, fn func(context.Context) error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := fn(ctx)
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("stopped")
			}
			d.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

func (d *Daemon) fail(err error) {
	select {
	case d.failed <- err:
	default:
	}
}

// Failed delivers the error of the first role that stopped on its own.
func (d *Daemon) Failed() <-chan error { return d.failed }

// Stop shuts down in reverse order of start: HTTP and metrics, consumers,
// MQTT clients, broker, NATS, Postgres.
func (d *Daemon) Stop() {
	d.once.Do(func() {
		for _, srv := range []*http.Server{d.metrics, d.http} {
			if srv != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = srv.Shutdown(ctx)
				cancel()
			}
		}
		d.cancel()
		d.wg.Wait()
		for _, c := range slices.Backward(d.clients) {
			c.Disconnect(250)
		}
		if d.broker != nil {
			if err := d.broker.Close(); err != nil {
				d.log.Error("stop", "err", err)
			}
		}
		for _, l := range d.lanes {
			_ = l.nc.Drain()
		}
		if d.nc != nil {
			_ = d.nc.Drain()
		}
		if d.ns != nil {
			d.ns.Shutdown()
			d.ns.WaitForShutdown()
		}
		if d.pool != nil {
			d.pool.Close()
		}
	})
}

// HTTPAddr is where the API listens.
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// MetricsAddr is where /metrics listens when it has an address of its own.
func (d *Daemon) MetricsAddr() string { return d.metricsAddr }

// MQTTAddr is where the embedded broker listens (empty when external).
func (d *Daemon) MQTTAddr() string {
	if d.broker == nil {
		return ""
	}
	return d.broker.Addr()
}

// MQTTWSAddr is the embedded broker's WebSocket address.
func (d *Daemon) MQTTWSAddr() string {
	if d.broker == nil {
		return ""
	}
	return d.broker.WSAddr()
}

// NATSURL is the URL of the NATS server in use, without its password.
func (d *Daemon) NATSURL() string {
	if d.ns != nil {
		return d.ns.ClientURL()
	}
	return redact(d.nc.ConnectedUrl())
}

// NATSClients names the connections the embedded NATS server holds, one
// name per connection (none with an external server): chatd's own, its
// lanes, and any service's.
func (d *Daemon) NATSClients() ([]string, error) {
	if d.ns == nil {
		return nil, nil
	}
	cz, err := d.ns.Connz(&server.ConnzOptions{Limit: 1 << 16})
	if err != nil {
		return nil, fmt.Errorf("nats connections: %w", err)
	}
	names := make([]string, len(cz.Conns))
	for i, c := range cz.Conns {
		names[i] = c.Name
	}
	return names, nil
}

// AcceptsNATSUser reports whether the embedded NATS server has loaded user
// (a service account followed from the log).
func (d *Daemon) AcceptsNATSUser(user string) bool { return d.ns != nil && d.ns.HasUser(user) }

// JetStream is the daemon's JetStream context (for tools and tests).
func (d *Daemon) JetStream() jetstream.JetStream { return d.js }

func firstApp(apps config.Apps) string {
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names[0]
}

// loopback turns a wildcard listen address into one a local client can dial.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}
