package bridge

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/chatbackend/chat/services/logx"
)

// cutHandler keeps client input out of the logs in bulk: it never writes a
// payload (a packet becomes its type, topic and size) and cuts every string.
// The broker library logs whole packets, with their payload as decimal
// bytes, when it refuses one; this handler is the one place that stops it.
type cutHandler struct{ next slog.Handler }

// cutLogger wraps log so that everything written through it is bounded.
func cutLogger(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(cutHandler); ok {
		return log
	}
	return slog.New(cutHandler{next: log.Handler()})
}

func (h cutHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h cutHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, logx.Cut(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(cutAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h cutHandler) WithAttrs(as []slog.Attr) slog.Handler {
	cut := make([]slog.Attr, len(as))
	for i, a := range as {
		cut[i] = cutAttr(a)
	}
	return cutHandler{next: h.next.WithAttrs(cut)}
}

func (h cutHandler) WithGroup(name string) slog.Handler {
	return cutHandler{next: h.next.WithGroup(name)}
}

func cutAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, logx.Cut(v.String()))
	case slog.KindGroup:
		g := v.Group()
		as := make([]any, len(g))
		for i, x := range g {
			as[i] = cutAttr(x)
		}
		return slog.Group(a.Key, as...)
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: cutAny(v.Any())}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func cutAny(x any) slog.Value {
	switch x := x.(type) {
	case packets.Packet:
		return packetSummary(&x)
	case *packets.Packet:
		return packetSummary(x)
	case []byte:
		return slog.StringValue(fmt.Sprintf("[%d bytes]", len(x)))
	case error:
		return slog.StringValue(logx.Cut(x.Error()))
	case fmt.Stringer:
		return slog.StringValue(logx.Cut(x.String()))
	default:
		return slog.StringValue(logx.Cut(fmt.Sprintf("%+v", x)))
	}
}

func packetSummary(pk *packets.Packet) slog.Value {
	if pk == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("type", packets.PacketNames[pk.FixedHeader.Type]),
		slog.String("topic", logx.Cut(pk.TopicName)),
		slog.Int("payload_bytes", len(pk.Payload)),
	)
}
