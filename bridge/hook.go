package bridge

import (
	"context"
	"log/slog"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
)

// appendTimeout bounds how long a client's command waits for the log before
// the client is disconnected to retry.
const appendTimeout = 10 * time.Second

// ingestHook is the ingress of the embedded broker: it appends a command's
// event inside the broker's publish handling, before the broker writes the
// client's PUBACK. The client's own acknowledgement therefore means "in the
// log" (DESIGN invariant 2), with no hop through a bridge connection. Each
// client's commands are handled in its own connection's order.
type ingestHook struct {
	mqtt.HookBase
	srv      *mqtt.Server
	apps     config.Apps
	append   *jet.Appender
	log      *slog.Logger
	prefixes []string
	limits   *CommandLimits
	messages *decide.Messages // edits, deletes and receipts; nil: refused as unsupported
	live     *liveOut         // typing, focus, presence; nil: refused as unsupported
}

func (h *ingestHook) ID() string { return "chat-ingest" }

func (h *ingestHook) Provides(b byte) bool { return b == mqtt.OnPublish }

func (h *ingestHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !h.isCommand(pk.TopicName) {
		return pk, nil
	}
	cmd, action, reply := command(h.apps, h.limits, h.log, pk.TopicName, pk.Payload, time.Now())
	if cmd != nil && (cmd.Decided != nil || cmd.Receipt != nil) {
		var err error
		if reply, err = h.decided(cmd); err != nil {
			h.log.Warn("command not decided, disconnecting the client to retry", "client", cl.ID, "err", err)
			_ = h.srv.DisconnectClient(cl, packets.ErrServerUnavailable)
			return pk, packets.ErrRejectPacket
		}
	}
	if cmd != nil && cmd.Live != nil {
		if h.live == nil {
			reply = rejected(h.log, cmd.prefix, cmd.Live.App, cmd.Live.User,
				reject(action, "", CodeUnsupported, "action %q is not available here", action), time.Now())
		} else {
			h.live.send(cmd.Live, connID(cl))
			commandsTotal.WithLabelValues(action, "relayed").Inc()
		}
	}
	if reply != nil {
		if err := h.srv.Publish(reply.Topic, reply.Payload, false, 1); err != nil {
			h.log.Warn("command.rejected not delivered", "topic", reply.Topic, "err", err)
		}
	}
	if cmd != nil && cmd.Event != nil {
		ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
		r, err := h.append.Append(ctx, cmd.Event)
		cancel()
		if err != nil {
			// No PUBACK: the client resends after reconnecting.
			h.log.Warn("append failed, disconnecting the client to retry", "client", cl.ID, "err", err)
			_ = h.srv.DisconnectClient(cl, packets.ErrServerUnavailable)
			return pk, packets.ErrRejectPacket
		}
		countAppended(action, r)
		if cmd.Event.Type == events.TypeMessagePosted {
			jet.StageDone(jet.StageIngressAppend, cmd.Event.At)
		}
	}
	// Acknowledge to the client, route to no subscriber: commands go to the log only.
	return pk, packets.CodeSuccessIgnore
}

// decided carries out an edit or a delete before the PUBACK, like a send.
func (h *ingestHook) decided(cmd *Command) (*Delivery, error) {
	if h.messages == nil {
		app, actor, clientMsgID, at := cmd.origin()
		return rejected(h.log, cmd.prefix, app, actor,
			reject(cmd.Action, clientMsgID, CodeUnsupported, "action %q is not available here", cmd.Action), at), nil
	}
	return runDecided(context.Background(), h.messages, h.log, cmd)
}

func (h *ingestHook) isCommand(topic string) bool {
	for _, p := range h.prefixes {
		if strings.HasPrefix(topic, p+"/"+levelCmd+"/") {
			return true
		}
	}
	return false
}

// Ingest makes the embedded broker append commands itself (see ingestHook).
// Edits, deletes and receipts are decided with messages; live signals (typing, focus,
// presence, and each connection's start and end) go out through live.
func (b *Broker) Ingest(apps config.Apps, limits *CommandLimits, app *jet.Appender, messages *decide.Messages, live LivePublisher, log *slog.Logger) error {
	log = cutLogger(log)
	out := newLiveOut(live, log)
	if err := b.srv.AddHook(&ingestHook{srv: b.srv, apps: apps, limits: limits, append: app, messages: messages,
		live: out, log: log, prefixes: b.authHook.prefixes}, nil); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return b.srv.AddHook(&liveHook{auth: b.authHook, out: out,
		conns: map[*mqtt.Client]*LiveSignal{}, users: map[string]int{}}, nil)
}

// PublishLive hands a live delivery to its subscribers at QoS 0: never
// queued for a session whose client is away, never waited for.
func (b *Broker) PublishLive(topic string, payload []byte) error {
	return b.srv.Publish(topic, payload, false, 0)
}
