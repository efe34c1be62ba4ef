package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// Notification records, as fan-out sends them (services/fanout
// notifications.go): user_feed rows of type notification.new, written in
// log order with the group and settings rows, so each is decided on the
// settings in force at its event.

// notifyCreated records that a new conversation's creator added its other
// members. Called before the roster applies the creation: a repeat records
// nothing.
func (c *changes) notifyCreated(e *events.Envelope, p *events.ConversationCreated) {
	if c.roster.Get(e.App, p.ConversationID) != nil {
		return
	}
	var users []string
	for _, m := range p.Members {
		if m.UserID != p.CreatedBy {
			users = append(users, m.UserID)
		}
	}
	c.notifyLater(e, users, p.ConversationID, wire.Notification{Type: wire.NotifyAddedToConversation,
		ConversationID: p.ConversationID, By: p.CreatedBy})
}

// notifyJoined records that someone added a newcomer to a conversation.
// Called before the roster applies the join.
func (c *changes) notifyJoined(e *events.Envelope, p *events.MemberJoined) {
	conv := c.roster.Get(e.App, p.ConversationID)
	if conv == nil || conv.IsMember(p.UserID) || p.UserID == p.AddedBy {
		return
	}
	c.notifyLater(e, []string{p.UserID}, p.ConversationID, wire.Notification{Type: wire.NotifyAddedToConversation,
		ConversationID: p.ConversationID, By: p.AddedBy})
}

func (c *changes) notifyLater(e *events.Envelope, users []string, conv string, n wire.Notification) {
	if len(users) == 0 {
		return
	}
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		return notify(ctx, q, e, users, conv, n)
	})
}

func (c *changes) notificationsRead(e *events.Envelope, p *events.NotificationsRead) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		if err := q.MarkNotificationsRead(ctx, db.MarkNotificationsReadParams{App: e.App, UserID: p.UserID, ReadUpto: int64(p.UpTo)}); err != nil {
			return err
		}
		return q.InsertUserFeed(ctx, db.InsertUserFeedParams{App: e.App, UserID: p.UserID, Seq: int64(e.Seq),
			Type: "notifications.read", At: e.At, Data: bridge.EncodeData(wire.NotificationsRead{UpTo: p.UpTo})})
	})
	return nil
}

// notify records n for each of users whose settings at e allow it: their
// notifications on, and conv (if any) not muted.
func notify(ctx context.Context, q *db.Queries, e *events.Envelope, users []string, conv string, n wire.Notification) error {
	rows, err := q.SettingsOf(ctx, db.SettingsOfParams{App: e.App, Users: users})
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	set := make(map[string]events.UserSettings, len(rows))
	for _, r := range rows {
		var s events.UserSettings
		if err := json.Unmarshal(r.Settings, &s); err != nil {
			return fmt.Errorf("settings of %s: %w", r.UserID, err)
		}
		set[r.UserID] = s
	}
	data := bridge.EncodeData(n)
	for _, u := range users {
		if s, ok := set[u]; ok && (!s.Notifications.Enabled || conv != "" && s.Muted(conv)) {
			continue
		}
		if err := q.InsertUserFeed(ctx, db.InsertUserFeedParams{App: e.App, UserID: u, Seq: int64(e.Seq),
			Type: "notification.new", At: e.At, Data: data}); err != nil {
			return err
		}
	}
	return nil
}
