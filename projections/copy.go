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

// A replay copies its new messages (half the events of a chat log) straight
// into the table. Given rows as values, a driver boxes each column in an
// interface and looks up how to encode it, row after row: on the
// benchmark's 1,000,000-event log that was a dozen allocations per message
// and, with the collector's share, about a tenth of the rebuild's CPU. The
// rows are few columns of three types, so they are written here in COPY's
// binary format, one buffer per batch: the one statement of the projector
// outside sql/queries, as sqlc would only hand the driver values. The
// replay knows every message it wrote (knownMessages), so its rows never
// conflict and go straight in.

// messageColumns are the columns copyMessages writes, in its order.
var messageColumns = []string{"app", "id", "conversation_id", "client_msg_id", "sender_id", "sender_type", "content",
	"content_type", "attachment_id", "reply_to", "created_at", "seq", "moderation_status", "moderation_reason",
	"moderated_seq", "moderated_at"}

var copyMessagesSQL = "COPY messages (" + strings.Join(messageColumns, ", ") + ") FROM STDIN (FORMAT binary)"

// copySignature opens every binary COPY stream: the signature, no flags,
// no header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyMessages writes rows, which must not exist yet, with one COPY in tx.
func copyMessages(ctx context.Context, tx pgx.Tx, rows []db.InsertMessageParams) error {
	var w copyWriter
	w.buf.Grow(len(copySignature) + len(rows)*256)
	w.buf.Write(copySignature)
	for i := range rows {
		m := &rows[i]
		w.fields(len(messageColumns))
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
	}
	w.fields(-1) // the trailer
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, &w.buf, copyMessagesSQL); err != nil {
		return fmt.Errorf("copy messages: %w", err)
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
