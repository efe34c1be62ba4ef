package queries

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// Conversations answers GET /conversations?limit=&cursor=: the caller's
// conversations, pinned first, then by last activity, each with its last
// message, unread count, role and canReply, from one statement. The cursor
// is opaque (the last row's place in that order); a conversation whose
// activity changes between two pages moves, so a client refreshes from the
// first page on a conversation delivery.
func (h Handlers) Conversations(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	params := db.ListMyConversationsParams{App: caller.App.Name, UserID: caller.User(), MaxRows: int32(limit + 1)}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if params.AfterPinned, params.AfterActivity, params.AfterID, err = parseCursor(c); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		params.After = true
	}
	rows, err := h.Store.Q.ListMyConversations(r.Context(), params)
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("list conversations: %w", err))
		return
	}
	more := int64(len(rows)) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]Conversation, len(rows))
	for i, row := range rows {
		out[i] = listed(row, caller.User())
	}
	resp := map[string]any{"conversations": out, "hasMore": more}
	if more {
		last := rows[len(rows)-1]
		resp["nextCursor"] = cursor(last.Pinned, last.ActivitySeq, last.ID)
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// listed is one row of the list as the caller sees it.
func listed(row db.ListMyConversationsRow, user string) Conversation {
	c := db.Conversation{App: row.App, ID: row.ID, Kind: row.Kind, Title: row.Title, ReplyPermission: row.ReplyPermission,
		CreatedBy: row.CreatedBy, CreatedAt: row.CreatedAt, Settings: row.Settings, Pinned: row.Pinned, ClosedAt: row.ClosedAt}
	p := db.Participant{UserID: user, Role: row.MyRole, CanReply: row.MyCanReply}
	var last *wire.Message
	if row.LastID != nil {
		last = &wire.Message{ID: *row.LastID, ClientMsgID: deref(row.LastClientMsgID), ConversationID: row.ID,
			SenderID: deref(row.LastSenderID), SenderType: deref(row.LastSenderType), Content: deref(row.LastContent),
			ContentType: deref(row.LastContentType), Attachment: row.LastAttachmentID, ReplyTo: row.LastReplyTo,
			CreatedAt: *row.LastCreatedAt, EditedAt: row.LastEditedAt, DeletedAt: row.LastDeletedAt,
			ModerationStatus: string(events.StatusApproved), Seq: uint64(*row.LastSeq)}
	}
	return Summary(c, p, row.UnreadCount, last)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// cursor encodes a row's place in the list's order.
func cursor(pinned bool, activity int64, id string) string {
	p := "0"
	if pinned {
		p = "1"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(p + "." + strconv.FormatInt(activity, 10) + "." + id))
}

var errCursor = httpx.Errorf(http.StatusBadRequest, "invalid_payload", "cursor: not one this server gave (use nextCursor as it is)")

func parseCursor(s string) (pinned bool, activity int64, id string, err error) {
	if len(s) > 128 {
		return false, 0, "", errCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return false, 0, "", errCursor
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 3 || parts[0] != "0" && parts[0] != "1" || !events.ValidID(parts[2]) {
		return false, 0, "", errCursor
	}
	activity, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil || activity < 0 {
		return false, 0, "", errCursor
	}
	return parts[0] == "1", activity, parts[2], nil
}
