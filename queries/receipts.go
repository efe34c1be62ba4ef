package queries

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/sql/db"
)

// errNoMessage answers a message the caller cannot see, whether it does not
// exist or is another member's message still awaiting (or refused by)
// moderation: the same answer, so neither is revealed.
var errNoMessage = httpx.Errorf(http.StatusNotFound, "not_found", "no such message")

// Receipt says since when a participant has received, or read, a message.
type Receipt struct {
	UserID string    `json:"userId"`
	At     time.Time `json:"at"`
}

// Receipts are a message's receipts (PROTOCOL §3).
type Receipts struct {
	Delivered []Receipt `json:"delivered"`
	Read      []Receipt `json:"read"`
}

// MessageReceipts answers GET /messages/{id}/receipts: who among the current
// participants of the message's conversation, its sender aside, has
// received and read it, and since when. A receipt covers every message up to
// and including the one it names, so a participant's time is that of their
// first receipt at or past the message. Reading implies receiving: whoever
// read it is in both lists, delivered at the earlier of their first delivery
// and first read receipt. Both lists are sorted by time, then user id. Members
// of the conversation only (403 not_member otherwise, as for its history); a
// message the caller cannot see in that history is 404 not_found.
func (h Handlers) MessageReceipts(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	m, err := h.Store.Q.GetMessage(r.Context(), db.GetMessageParams{App: caller.App.Name, ID: r.PathValue("id")})
	if errors.Is(err, pgx.ErrNoRows) {
		httpx.WriteError(w, r, errNoMessage)
		return
	}
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("read message: %w", err))
		return
	}
	if _, _, err := h.Store.Member(r.Context(), m.App, m.ConversationID, caller.User()); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if m.ModerationStatus != "approved" && m.SenderID != caller.User() {
		httpx.WriteError(w, r, errNoMessage)
		return
	}
	rows, err := h.Store.Q.MessageReceipts(r.Context(), db.MessageReceiptsParams{
		App: m.App, ConversationID: m.ConversationID, Seq: m.Seq, SenderID: m.SenderID})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("message receipts: %w", err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, receiptsOf(rows))
}

// receiptsOf folds each participant's first receipt of each kind into the
// two lists.
func receiptsOf(rows []db.MessageReceiptsRow) Receipts {
	out := Receipts{Delivered: []Receipt{}, Read: []Receipt{}}
	delivered := map[string]time.Time{}
	var order []string
	for _, row := range rows {
		if row.Kind == "read" {
			out.Read = append(out.Read, Receipt{UserID: row.UserID, At: row.At})
		}
		at, seen := delivered[row.UserID]
		if !seen {
			order = append(order, row.UserID)
		}
		if !seen || row.At.Before(at) {
			delivered[row.UserID] = row.At
		}
	}
	for _, u := range order {
		out.Delivered = append(out.Delivered, Receipt{UserID: u, At: delivered[u]})
	}
	byTime := func(a, b Receipt) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.UserID, b.UserID))
	}
	slices.SortFunc(out.Delivered, byTime)
	slices.SortFunc(out.Read, byTime)
	return out
}
