package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/sql/db"
)

// A replay copies the rows it only ever adds: its new messages (half the
// events of a chat log), memberships and notification records (several per
// conversation created or joined). Given rows as values, a driver boxes
// each column in an interface and looks up how to encode it, row after row:
// on the benchmark's 1,000,000-event log that was a dozen allocations per
// message, and the arrays of the insert statements as many per membership
// and notification. The rows are a few columns of four types, so they are
// written here in COPY's binary format, one buffer per statement: the only
// statements of the projector outside sql/queries, as sqlc would hand the
// driver values. None conflicts: the replay knows every message it wrote
// (knownMessages), and the other rows are keyed by the position of the
// event making them, which a replay applies once.

// messageColumns are the columns copyMessages writes, in its order.
var messageColumns = []string{"app", "id", "conversation_id", "client_msg_id", "sender_id", "sender_type", "content",
	"content_type", "attachment_id", "reply_to", "created_at", "seq", "moderation_status", "moderation_reason",
	"moderated_seq", "moderated_at"}

// messageRow is one row of messages as the projector writes it; the
// staging table has the same columns.
type messageRow = db.StageMessagesParams

// copyMessages writes rows, which must not exist yet, with one COPY in tx.
func copyMessages(ctx context.Context, tx pgx.Tx, rows []messageRow) error {
	return copyRows(ctx, tx, "messages", messageColumns, len(rows), func(w *copyWriter, i int) {
		m := &rows[i]
		w.text(m.App)
		w.text(m.ID)
		w.text(m.ConversationID)
		w.text(m.ClientMsgID)
		w.text(m.SenderID)
		w.text(m.SenderType)
		w.text(m.Content)
		w.text(m.ContentType)
		w.optText(m.AttachmentID)
		w.optText(m.ReplyTo)
		w.time(m.CreatedAt)
		w.int8(m.Seq)
		w.text(m.ModerationStatus)
		w.optText(m.ModerationReason)
		w.optInt8(m.ModeratedSeq)
		w.optTime(m.ModeratedAt)
	})
}

// insertMessages writes a live batch's messages with InsertMessages: one
// statement, its columns as arrays, a NULL as the empty value of its type.
// It returns the rows written, as they now stand.
func insertMessages(ctx context.Context, q *db.Queries, rows []messageRow) ([]db.InsertMessagesRow, error) {
	n := len(rows)
	p := db.InsertMessagesParams{App: make([]string, n), ID: make([]string, n), ConversationID: make([]string, n),
		ClientMsgID: make([]string, n), SenderID: make([]string, n), SenderType: make([]string, n),
		Content: make([]string, n), ContentType: make([]string, n), AttachmentID: make([]string, n),
		ReplyTo: make([]string, n), CreatedAt: make([]time.Time, n), Seq: make([]int64, n),
		ModerationStatus: make([]string, n), ModerationReason: make([]string, n), ModeratedSeq: make([]int64, n),
		ModeratedAt: make([]time.Time, n)}
	for i, m := range rows {
		p.App[i], p.ID[i], p.ConversationID[i], p.ClientMsgID[i] = m.App, m.ID, m.ConversationID, m.ClientMsgID
		p.SenderID[i], p.SenderType[i], p.Content[i], p.ContentType[i] = m.SenderID, m.SenderType, m.Content, m.ContentType
		p.AttachmentID[i], p.ReplyTo[i] = valueOr0(m.AttachmentID), valueOr0(m.ReplyTo)
		p.CreatedAt[i], p.Seq[i], p.ModerationStatus[i] = m.CreatedAt, m.Seq, m.ModerationStatus
		p.ModerationReason[i], p.ModeratedSeq[i], p.ModeratedAt[i] = valueOr0(m.ModerationReason), valueOr0(m.ModeratedSeq), valueOr0(m.ModeratedAt)
	}
	written, err := q.InsertMessages(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	return written, nil
}

// valueOr0 is *v, or the zero value of its type for nil.
func valueOr0[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}

// copyMemberships writes a replay's new memberships (InsertMemberships'
// rows: a to_seq of 0 is NULL). A membership's key holds the position of
// the event opening it, and a replay applies each event once (its
// checkpoint commits with the rows), so none exists yet.
func copyMemberships(ctx context.Context, tx pgx.Tx, rows db.InsertMembershipsParams) error {
	cols := []string{"app", "conversation_id", "user_id", "from_seq", "to_seq", "role"}
	return copyRows(ctx, tx, "memberships", cols, len(rows.App), func(w *copyWriter, i int) {
		w.text(rows.App[i])
		w.text(rows.ConversationID[i])
		w.text(rows.UserID[i])
		w.int8(rows.FromSeq[i])
		if rows.ToSeq[i] == 0 {
			w.length(-1)
		} else {
			w.int8(rows.ToSeq[i])
		}
		w.text(rows.Role[i])
	})
}

// copyNotifications writes a replay's new notification records
// (AddNotifications' rows), keyed by the position of the event making them,
// as copyMemberships.
func copyNotifications(ctx context.Context, tx pgx.Tx, rows db.AddNotificationsParams) error {
	cols := []string{"app", "user_id", "seq", "type", "at", "data"}
	return copyRows(ctx, tx, "user_feed", cols, len(rows.App), func(w *copyWriter, i int) {
		w.text(rows.App[i])
		w.text(rows.UserID[i])
		w.int8(rows.Seq[i])
		w.text("notification.new")
		w.time(rows.At[i])
		w.bytes(rows.Data[i]) // json's binary form is its text
	})
}

// copySignature opens every binary COPY stream: the signature, no flags,
// no header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyRows writes n rows of table, each encoded by row in the order of
// columns, with one COPY in tx.
func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, n int, row func(w *copyWriter, i int)) error {
	var w copyWriter
	w.buf.Grow(len(copySignature) + n*32*len(columns))
	w.buf.Write(copySignature)
	for i := range n {
		w.fields(len(columns))
		row(&w, i)
	}
	w.fields(-1) // the trailer
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(columns, ", ") + ") FROM STDIN (FORMAT binary)"
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, &w.buf, sql); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// copyWriter encodes rows in COPY's binary format: each row its number of
// fields, then each field its length (-1 for NULL) and its bytes.
type copyWriter struct {
	buf bytes.Buffer
	tmp [8]byte
}

func (w *copyWriter) fields(n int) {
	w.buf.Write(binary.BigEndian.AppendUint16(w.tmp[:0], uint16(int16(n))))
}

func (w *copyWriter) length(n int) {
	w.buf.Write(binary.BigEndian.AppendUint32(w.tmp[:0], uint32(int32(n))))
}

func (w *copyWriter) bytes(b []byte) {
	w.length(len(b))
	w.buf.Write(b)
}

func (w *copyWriter) text(s string) {
	w.length(len(s))
	w.buf.WriteString(s)
}

func (w *copyWriter) optText(s *string) {
	if s == nil {
		w.length(-1)
		return
	}
	w.text(*s)
}

func (w *copyWriter) int8(v int64) {
	w.length(8)
	w.buf.Write(binary.BigEndian.AppendUint64(w.tmp[:0], uint64(v)))
}

func (w *copyWriter) optInt8(v *int64) {
	if v == nil {
		w.length(-1)
		return
	}
	w.int8(*v)
}

// postgresEpoch is where timestamptz counts its microseconds from, in
// microseconds since 1970.
var postgresEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

func (w *copyWriter) time(t time.Time) {
	w.int8(t.UnixMicro() - postgresEpoch)
}

func (w *copyWriter) optTime(t *time.Time) {
	if t == nil {
		w.length(-1)
		return
	}
	w.time(*t)
}
