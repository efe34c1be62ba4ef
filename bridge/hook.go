package bridge

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/chatbackend/chat/services/config"
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
}

func (h *ingestHook) ID() string { return "chat-ingest" }

func (h *ingestHook) Provides(b byte) bool { return bytes.Contains([]byte{mqtt.OnPublish}, []byte{b}) }

func (h *ingestHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !h.isCommand(pk.TopicName) {
		return pk, nil
	}
	e, action, reply := command(h.apps, h.limits, h.log, pk.TopicName, pk.Payload, time.Now())
	if reply != nil {
		if err := h.srv.Publish(reply.Topic, reply.Payload, false, 1); err != nil {
			h.log.Warn("command.rejected not delivered", "topic", reply.Topic, "err", err)
		}
	}
	if e != nil {
		ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
		r, err := h.append.Append(ctx, e)
		cancel()
		if err != nil {
			// No PUBACK: the client resends after reconnecting.
			h.log.Warn("append failed, disconnecting the client to retry", "client", cl.ID, "err", err)
			_ = h.srv.DisconnectClient(cl, packets.ErrServerUnavailable)
			return pk, packets.ErrRejectPacket
		}
		countAppended(action, r)
	}
	// Acknowledge to the client, route to no subscriber: commands go to the log only.
	return pk, packets.CodeSuccessIgnore
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
func (b *Broker) Ingest(apps config.Apps, limits *CommandLimits, app *jet.Appender, log *slog.Logger) error {
	return b.srv.AddHook(&ingestHook{srv: b.srv, apps: apps, limits: limits, append: app, log: cutLogger(log), prefixes: b.authHook.prefixes}, nil)
}
