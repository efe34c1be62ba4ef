package queries

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/sql/db"
)

// NotificationRecord is one notification of GET /users/me/notifications:
// the notification.new delivery's data, its position and time, and
// whether it is read.
type NotificationRecord struct {
	Seq          uint64          `json:"seq"`
	At           time.Time       `json:"at"`
	Read         bool            `json:"read"`
	Notification json.RawMessage `json:"notification"`
}

// UnreadConversation is a message notification: a conversation, not muted,
// with approved messages from others after the user's read position.
type UnreadConversation struct {
	ConversationID string `json:"conversationId"`
	Unread         int64  `json:"unread"`
	LastSeq        uint64 `json:"lastSeq"`
}

// Notifications answers GET /users/me/notifications?before=&limit=: the
// records, newest first, paged by seq, and the conversations with unread
// messages (none while the user's notifications are off).
func (h Handlers) Notifications(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	before, err := intParam(r, "before", 1<<62, 1, 1<<62)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rows, err := h.Store.Q.ListNotifications(r.Context(), db.ListNotificationsParams{App: caller.App.Name, UserID: caller.User(),
		Before: before, MaxRows: int32(limit + 1)})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("list notifications: %w", err))
		return
	}
	more := int64(len(rows)) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]NotificationRecord, len(rows))
	for i, n := range rows {
		out[i] = NotificationRecord{Seq: uint64(n.Seq), At: n.At.UTC(), Read: n.Read, Notification: n.Data}
	}
	set := events.DefaultSettings()
	row, err := h.Store.Q.GetUserSettings(r.Context(), db.GetUserSettingsParams{App: caller.App.Name, UserID: caller.User()})
	switch {
	case err == nil:
		if err := json.Unmarshal(row.Settings, &set); err != nil {
			httpx.WriteError(w, r, fmt.Errorf("read settings: %w", err))
			return
		}
	case !errors.Is(err, pgx.ErrNoRows):
		httpx.WriteError(w, r, fmt.Errorf("read settings: %w", err))
		return
	}
	unread := []UnreadConversation{}
	if set.Notifications.Enabled {
		cs, err := h.Store.Q.UnreadConversations(r.Context(), db.UnreadConversationsParams{App: caller.App.Name,
			UserID: caller.User(), Muted: set.MutedConversations, MaxRows: MaxLimit})
		if err != nil {
			httpx.WriteError(w, r, fmt.Errorf("unread conversations: %w", err))
			return
		}
		for _, c := range cs {
			unread = append(unread, UnreadConversation{ConversationID: c.ConversationID, Unread: c.Unread, LastSeq: uint64(c.LastSeq)})
		}
	}
	resp := map[string]any{"notifications": out, "hasMore": more, "unreadConversations": unread}
	if more {
		resp["nextBefore"] = out[len(out)-1].Seq
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}
