package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/projections"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// Page sizes of GET /sync (PROTOCOL §3): larger than other lists, a client
// catching up wants few round trips.
const (
	DefaultSyncLimit = 500
	MaxSyncLimit     = 500
)

// SyncPage is one answer of GET /sync: the deliveries after a position, in
// log order, and the position to ask from next.
type SyncPage struct {
	Events  []json.RawMessage `json:"events"`
	Next    uint64            `json:"next"`
	HasMore bool              `json:"hasMore"`
}

// ErrGone answers a since older than what the read model keeps.
var ErrGone = httpx.Errorf(http.StatusGone, "gone", "since is older than what the server keeps: reload with history")

// Beginner starts the read-only snapshot a sync page is read in.
type Beginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// delivery is one envelope of a page, before encoding.
type delivery struct {
	seq  uint64
	ord  int // message.new before moderation.result at one position, as fan-out sends them
	out  bridge.Outbound
	data func() (any, error)
}

// Sync reads user's deliveries after since, at most limit of them (one more
// when the last position has two: a page never splits a position), from one
// snapshot of the read model. Each envelope is encoded by the code that
// encodes live deliveries, from the same wire shapes.
func (s Store) Sync(ctx context.Context, app, user string, since uint64, limit int) (SyncPage, error) {
	if s.DB == nil {
		return SyncPage{}, errors.New("sync: the store has no database to open a snapshot on")
	}
	var page SyncPage
	err := pgx.BeginTxFunc(ctx, s.DB, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) (err error) {
			page, err = syncIn(ctx, db.New(tx), app, user, since, limit)
			return err
		})
	return page, err
}

func syncIn(ctx context.Context, q *db.Queries, app, user string, since uint64, limit int) (SyncPage, error) {
	horizon, err := q.SyncHorizon(ctx)
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync horizon: %w", err)
	}
	if since < uint64(horizon) {
		return SyncPage{}, ErrGone
	}
	pos, err := q.GetCheckpoint(ctx, projections.Name)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return SyncPage{}, fmt.Errorf("read model position: %w", err)
	}
	// Each source is read up to n rows; where one stops short of n it is
	// complete, else complete only up to its last position.
	n := limit + 2
	var all []delivery
	complete := uint64(1<<63 - 1)
	cut := func(count int, last int64) {
		if count == n {
			complete = min(complete, uint64(last))
		}
	}
	since64 := int64(since)
	news, err := q.SyncNewMessages(ctx, db.SyncNewMessagesParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync messages: %w", err)
	}
	for _, m := range news {
		all = append(all, delivery{seq: uint64(m.ModeratedSeq), out: bridge.Outbound{Type: "message.new", At: m.ModeratedAt, Data: newMessage(m)}})
	}
	if len(news) > 0 {
		cut(len(news), news[len(news)-1].ModeratedSeq)
	}
	results, err := q.SyncModerationResults(ctx, db.SyncModerationResultsParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync moderation results: %w", err)
	}
	for _, m := range results {
		r := wire.ModerationResult{ClientMsgID: m.ClientMsgID, MessageID: m.ID, ConversationID: m.ConversationID, Status: m.ModerationStatus}
		if m.ModerationReason != nil {
			r.Reason = *m.ModerationReason
		}
		all = append(all, delivery{seq: uint64(m.ModeratedSeq), ord: 1, out: bridge.Outbound{Type: "moderation.result", At: m.ModeratedAt, Data: r}})
	}
	if len(results) > 0 {
		cut(len(results), results[len(results)-1].ModeratedSeq)
	}
	// The holds a later decision replaced: each was a moderation.result.
	held, err := q.SyncHeldResults(ctx, db.SyncHeldResultsParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync held results: %w", err)
	}
	for _, h := range held {
		r := wire.ModerationResult{ClientMsgID: h.ClientMsgID, MessageID: h.ID, ConversationID: h.ConversationID,
			Status: string(events.StatusPending)}
		if h.Reason != nil {
			r.Reason = *h.Reason
		}
		all = append(all, delivery{seq: uint64(h.Seq), ord: 1, out: bridge.Outbound{Type: "moderation.result", At: h.At, Data: r}})
	}
	if len(held) > 0 {
		cut(len(held), held[len(held)-1].Seq)
	}
	feed, err := q.SyncFeed(ctx, db.SyncFeedParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync conversation feed: %w", err)
	}
	for _, f := range feed {
		d, err := feedData(f)
		if err != nil {
			return SyncPage{}, err
		}
		all = append(all, delivery{seq: uint64(f.Seq), out: bridge.Outbound{Type: f.Type, At: f.At, Data: d}})
	}
	if len(feed) > 0 {
		cut(len(feed), feed[len(feed)-1].Seq)
	}
	receipts, err := q.SyncReceipts(ctx, db.SyncReceiptsParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync receipts: %w", err)
	}
	for _, r := range receipts {
		typ := "delivery.receipt"
		if r.Kind == "read" {
			typ = "read.receipt"
		}
		all = append(all, delivery{seq: uint64(r.EventSeq), out: bridge.Outbound{Type: typ, At: r.At, Data: wire.Receipt{
			ConversationID: r.ConversationID, UserID: r.UserID, MessageID: r.MessageID, MessageSeq: uint64(r.Seq), At: r.At.UTC()}}})
	}
	if len(receipts) > 0 {
		cut(len(receipts), receipts[len(receipts)-1].EventSeq)
	}
	groups, err := q.SyncGroupFeed(ctx, db.SyncGroupFeedParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync group feed: %w", err)
	}
	for _, f := range groups {
		all = append(all, delivery{seq: uint64(f.Seq), out: bridge.Outbound{Type: f.Type, At: f.At, Data: json.RawMessage(f.Data)}})
	}
	if len(groups) > 0 {
		cut(len(groups), groups[len(groups)-1].Seq)
	}
	own, err := q.SyncUserFeed(ctx, db.SyncUserFeedParams{App: app, UserID: user, Since: since64, MaxRows: int32(n)})
	if err != nil {
		return SyncPage{}, fmt.Errorf("sync user feed: %w", err)
	}
	for _, f := range own { // after the event's other deliveries, as fan-out sends them
		all = append(all, delivery{seq: uint64(f.Seq), ord: 1, out: bridge.Outbound{Type: f.Type, At: f.At, Data: json.RawMessage(f.Data)}})
	}
	if len(own) > 0 {
		cut(len(own), own[len(own)-1].Seq)
	}

	sort.Slice(all, func(i, j int) bool {
		if all[i].seq != all[j].seq {
			return all[i].seq < all[j].seq
		}
		return all[i].ord < all[j].ord
	})
	exact := sort.Search(len(all), func(i int) bool { return all[i].seq > complete })
	take := min(limit, exact)
	for take > 0 && take < exact && all[take].seq == all[take-1].seq {
		take++ // the rest of the last position
	}
	page := SyncPage{Events: make([]json.RawMessage, take), HasMore: take < len(all) || complete < 1<<63-1}
	for i, d := range all[:take] {
		d.out.Seq, d.out.At = d.seq, d.out.At.UTC()
		page.Events[i] = bridge.Encode(d.out)
	}
	switch {
	case page.HasMore:
		page.Next = all[take-1].seq
	default: // everything up to the read model's position is in
		page.Next = max(since, uint64(pos))
		if take > 0 {
			page.Next = max(page.Next, all[take-1].seq)
		}
	}
	return page, nil
}

// newMessage is message.new's data as fan-out builds it (wire.MessageFromEvent):
// the message as posted, approved.
func newMessage(m db.SyncNewMessagesRow) wire.Message {
	return wire.Message{
		ID: m.ID, ClientMsgID: m.ClientMsgID, ConversationID: m.ConversationID, SenderID: m.SenderID,
		SenderType: m.SenderType, Content: m.Content, ContentType: m.ContentType, Attachment: m.AttachmentID,
		ReplyTo: m.ReplyTo, CreatedAt: m.CreatedAt.UTC(), ModerationStatus: "approved", Seq: uint64(m.Seq),
	}
}

// feedData is a feed row's data. An edit's goes through the message object
// again: a deletion may have emptied its content in place.
func feedData(f db.SyncFeedRow) (any, error) {
	if f.Type != "message.edited" {
		return json.RawMessage(f.Data), nil
	}
	var m wire.Message
	if err := json.Unmarshal(f.Data, &m); err != nil {
		return nil, fmt.Errorf("sync: the edit at %d: %w", f.Seq, err)
	}
	return m, nil
}
