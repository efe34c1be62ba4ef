package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/jet"
	chatsql "github.com/chatbackend/chat/sql"
)

// relayConns connects the raw relay's publishers: the service account, which
// may write users' topics, through the same broker and the same ACL.
func (b *bench) relayConns(n int) ([]*mqttlite.Conn, error) {
	user := "chat-bridge"
	tok, err := auth.Mint([]byte(benchSecret), "geosector", user, auth.RoleService, "", "", time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	var out []*mqttlite.Conn
	for i := range n {
		c, err := mqttlite.Dial(b.srv.mqttAddr, "bench-relay-"+strconv.Itoa(i), user, b.srv.password(user, tok), nil)
		if err != nil {
			return nil, fmt.Errorf("relay publisher: %w", err)
		}
		go func() { _ = c.Run() }()
		out = append(out, c)
	}
	return out, nil
}

// relay offers messages published straight to recipients' topics: the
// broker's own cost of moving a QoS 1 message, with no chat logic.
func (b *bench) relay(name string, pubs []*mqttlite.Conn, recipients int, rate float64, dur, drain time.Duration) *loadResult {
	res := b.openLoop(name, rate, dur, drain, func(k int) (int, error) {
		u := k % recipients
		body := []byte(`{"type":"message.new","data":{"content":"` + b.currentTag + itoa(k) + `"}}`)
		return 1, pubs[k%len(pubs)].Publish("chat/user/"+b.pop.users[u]+"/messages", body, 1)
	}, func(int) int { return -1 })
	return res
}

// relayShaped is the raw relay in the chat's own fan-out shape: message k
// goes to the members of the conversation chat would send it in (picker),
// one publish per member, the sender's own copy included as chat sends it.
// At the chat's rate it hands subscribers the same messages per second as
// the chat does, with no chat logic: the baseline for the mixed chat.
func (b *bench) relayShaped(name string, pubs []*mqttlite.Conn, pairs, groups []*conversation, groupShare, rate float64, dur, drain time.Duration) *loadResult {
	pick := picker(pairs, groups, groupShare)
	var published atomic.Int64
	res := b.openLoop(name, rate, dur, drain, func(k int) (int, error) {
		c, _ := pick(k)
		body := []byte(`{"type":"message.new","data":{"content":"` + b.currentTag + itoa(k) + `"}}`)
		pub := pubs[k%len(pubs)]
		for _, m := range c.members {
			if err := pub.Publish("chat/user/"+b.pop.users[m]+"/messages", body, 1); err != nil {
				return 0, err
			}
			published.Add(1)
		}
		return len(c.members) - 1, nil
	}, func(k int) int { _, s := pick(k); return s })
	// Into the broker went a publish per member, not one per message.
	res.movedPerSec += float64(published.Load()-int64(res.sent)) / res.elapsed.Seconds()
	return res
}

// jetstreamBaseline appends n messages shaped like a posted message to a
// stream with the event log's settings, then reads them back.
func (b *bench) jetstreamBaseline(ctx context.Context, n int) (appendRate, readRate float64, err error) {
	nc, err := nats.Connect(b.srv.natsURL)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return 0, 0, err
	}
	cfg := jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw.>"}, Storage: jetstream.FileStorage,
		Duplicates: jet.DefaultDuplicateWindow, Retention: jetstream.LimitsPolicy}
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return 0, 0, err
	}
	defer js.DeleteStream(context.Background(), "BENCH_RAW")
	body := []byte(`{"id":"m0123456789abcdef0123456789abcdef","type":"MessagePosted","v":1,"app":"geosector","at":"2026-11-21T10:00:00.123456Z","actor":{"id":"u1","type":"user"},"data":{"messageId":"m0123456789abcdef0123456789abcdef","clientMsgId":"k1","conversationId":"d0123456789abcdef01234567","senderId":"u1","senderType":"user","content":"b1-12345","contentType":"text"}}`)
	start := time.Now()
	for i := range n {
		m := nats.NewMsg("bench.raw.conv.c" + strconv.Itoa(i%100) + ".message.posted")
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, "raw-"+strconv.Itoa(i))
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(10*time.Second)); err != nil {
			return 0, 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return 0, 0, fmt.Errorf("raw appends not acknowledged")
	}
	appendRate = float64(n) / time.Since(start).Seconds()
	cons, err := js.OrderedConsumer(ctx, "BENCH_RAW", jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, 0, err
	}
	start = time.Now()
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return 0, 0, err
	}
	defer it.Stop()
	for range n {
		if _, err := it.Next(); err != nil {
			return 0, 0, err
		}
	}
	return appendRate, float64(n) / time.Since(start).Seconds(), nil
}

// copyBaseline copies n rows shaped like the projection's messages into a
// table with the same definition and indexes: ids derived the same way
// (hashes, so the primary key takes random inserts), conversations mixed.
func (b *bench) copyBaseline(ctx context.Context, n int) (float64, error) {
	conn, err := pgx.Connect(ctx, b.srv.dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	if err := chatsql.Migrate(ctx, conn, "bench_copy"); err != nil {
		return 0, err
	}
	defer conn.Exec(context.Background(), "DROP SCHEMA bench_copy CASCADE")
	at := time.Now()
	rows := make([][]any, n)
	for i := range rows {
		id := events.MessageID("geosector", "u1", "k"+strconv.Itoa(i))
		rows[i] = []any{"geosector", id, "c" + strconv.Itoa(i%10000), "k" + strconv.Itoa(i), "u1", "user", "message number " + strconv.Itoa(i),
			"text", nil, nil, at, int64(i + 1), "approved", nil, int64(i + 2)}
	}
	cols := []string{"app", "id", "conversation_id", "client_msg_id", "sender_id", "sender_type", "content", "content_type",
		"attachment_id", "reply_to", "created_at", "seq", "moderation_status", "moderation_reason", "moderated_seq"}
	start := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_copy", "messages"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
