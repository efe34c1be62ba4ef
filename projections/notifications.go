package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// notifyLater queues a conversation's notification for users: conversations
// are created and joined all the time, so these are decided and written for
// the whole batch at once (writeNotes), not one statement per event.
func (c *changes) notifyLater(e *events.Envelope, users []string, conv string, n wire.Notification) {
	if len(users) == 0 {
		return
	}
	c.notes = append(c.notes, noteOp{app: e.App, users: users, conv: conv, seq: int64(e.Seq), at: e.At, data: bridge.EncodeData(n)})
}

// noteOp is, in log order, a conversation notification for users, or
// (settings set) a user's settings changing, which decide the
// notifications after it.
type noteOp struct {
	app      string
	users    []string
	conv     string
	seq      int64
	at       time.Time
	data     []byte
	settings *events.UserSettings
}

type appUser struct{ app, user string }

// writeNotes records the batch's conversation notifications, each decided
// on its recipient's settings at its position: those before the batch (one
// read), then the batch's own changes in order. It runs before the batch's
// settings rows are written.
func writeNotes(ctx context.Context, tx pgx.Tx, q *db.Queries, c *changes) error {
	if len(c.notes) == 0 {
		return nil
	}
	wanted := map[string][]string{}
	for _, op := range c.notes {
		if op.settings == nil {
			wanted[op.app] = append(wanted[op.app], op.users...)
		}
	}
	settings := map[appUser]events.UserSettings{}
	for app, users := range wanted {
		rows, err := q.SettingsOf(ctx, db.SettingsOfParams{App: app, Users: users})
		if err != nil {
			return fmt.Errorf("read settings: %w", err)
		}
		for _, r := range rows {
			var s events.UserSettings
			if err := json.Unmarshal(r.Settings, &s); err != nil {
				return fmt.Errorf("settings of %s: %w", r.UserID, err)
			}
			settings[appUser{app, r.UserID}] = s
		}
	}
	var rows db.AddNotificationsParams
	for _, op := range c.notes {
		if op.settings != nil {
			settings[appUser{op.app, op.users[0]}] = *op.settings
			continue
		}
		for _, u := range op.users {
			if s, ok := settings[appUser{op.app, u}]; ok && (!s.Notifications.Enabled || op.conv != "" && s.Muted(op.conv)) {
				continue
			}
			rows.App, rows.UserID, rows.Seq = append(rows.App, op.app), append(rows.UserID, u), append(rows.Seq, op.seq)
			rows.At, rows.Data = append(rows.At, op.at), append(rows.Data, op.data)
		}
	}
	switch {
	case len(rows.App) > 0 && c.known != nil:
		return copyNotifications(ctx, tx, rows)
	case len(rows.App) > 0:
		return q.AddNotifications(ctx, rows)
	}
	return nil
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
