package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// Groups (teams) and the user room. Their events are rare next to messages,
// so each is written as its own statements, in log order, after the rest of
// the batch: they touch only their own tables, and each statement sees the
// rows the previous events left, so a group event's effect (a repeat writes
// nothing, a delivery is recorded only when fan-out sends one) is decided
// on the same state fan-out's roster holds at that position.

// groupWrite is one event's effect on the group and user tables.
type groupWrite func(ctx context.Context, q *db.Queries) error

func (c *changes) groupCreated(e *events.Envelope, p *events.GroupCreated) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		n, err := q.InsertGroup(ctx, db.InsertGroupParams{App: e.App, ID: p.GroupID, Name: p.Name, CreatedBy: p.CreatedBy,
			CreatedAt: e.At, CreatedSeq: int64(e.Seq)})
		if err != nil || n == 0 {
			return err // n == 0: created before, a repeat
		}
		if err := joinGroup(ctx, q, e, p.GroupID, p.CreatedBy, events.RoleAdmin); err != nil {
			return err
		}
		return groupFeed(ctx, q, e, p.GroupID, "group.created", wire.GroupChange{GroupID: p.GroupID, Name: p.Name, By: p.CreatedBy})
	})
	return nil
}

func (c *changes) groupUpdated(e *events.Envelope, p *events.GroupUpdated) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		n, err := q.RenameGroup(ctx, db.RenameGroupParams{App: e.App, ID: p.GroupID, Name: p.Name})
		if err != nil || n == 0 {
			return err
		}
		return groupFeed(ctx, q, e, p.GroupID, "group.updated", wire.GroupChange{GroupID: p.GroupID, Name: p.Name, By: p.By})
	})
	return nil
}

func (c *changes) groupJoinRequested(e *events.Envelope, p *events.GroupJoinRequested) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		g, err := q.GetGroup(ctx, db.GetGroupParams{App: e.App, ID: p.GroupID})
		if err != nil {
			return noRow(err)
		}
		if _, err := q.GroupMemberRole(ctx, db.GroupMemberRoleParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID}); !errors.Is(err, pgx.ErrNoRows) {
			return err // a member (err nil) asks nothing
		}
		n, err := q.InsertJoinRequest(ctx, db.InsertJoinRequestParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID,
			RequestedAt: e.At, RequestedSeq: int64(e.Seq)})
		if err != nil || n == 0 {
			return err // n == 0: pending already
		}
		admins, err := q.GroupAdmins(ctx, db.GroupAdminsParams{App: e.App, GroupID: p.GroupID})
		if err != nil {
			return err
		}
		return notify(ctx, q, e, admins, "", wire.Notification{Type: wire.NotifyJoinRequested, GroupID: p.GroupID,
			Name: g.Name, UserID: p.UserID})
	})
	return nil
}

func (c *changes) groupJoinRefused(e *events.Envelope, p *events.GroupJoinRefused) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		n, err := q.DeleteJoinRequest(ctx, db.DeleteJoinRequestParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID})
		if err != nil || n == 0 {
			return err // n == 0: nothing pending
		}
		g, err := q.GetGroup(ctx, db.GetGroupParams{App: e.App, ID: p.GroupID})
		if err != nil {
			return err
		}
		return notify(ctx, q, e, []string{p.UserID}, "", wire.Notification{Type: wire.NotifyJoinRefused, GroupID: p.GroupID,
			Name: g.Name, By: p.By})
	})
	return nil
}

func (c *changes) groupMemberJoined(e *events.Envelope, p *events.GroupMemberJoined) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		g, err := q.GetGroup(ctx, db.GetGroupParams{App: e.App, ID: p.GroupID})
		if err != nil {
			return noRow(err)
		}
		role, err := q.GroupMemberRole(ctx, db.GroupMemberRoleParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID})
		newcomer := errors.Is(err, pgx.ErrNoRows)
		switch {
		case err == nil && role == string(p.Role):
			return nil // a repeat
		case err == nil:
			err = q.UpsertGroupMember(ctx, db.UpsertGroupMemberParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID,
				Role: string(p.Role), JoinedAt: e.At, JoinedSeq: int64(e.Seq)})
		case newcomer:
			err = joinGroup(ctx, q, e, p.GroupID, p.UserID, p.Role)
		}
		if err != nil {
			return err
		}
		requested, err := q.DeleteJoinRequest(ctx, db.DeleteJoinRequestParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID})
		if err != nil {
			return err
		}
		if err := groupFeed(ctx, q, e, p.GroupID, "group.member_joined",
			wire.GroupChange{GroupID: p.GroupID, Name: g.Name, UserID: p.UserID, Role: string(p.Role), By: p.By}); err != nil {
			return err
		}
		if !newcomer || p.UserID == p.By {
			return nil
		}
		typ := wire.NotifyAddedToGroup
		if requested > 0 {
			typ = wire.NotifyJoinAccepted
		}
		return notify(ctx, q, e, []string{p.UserID}, "", wire.Notification{Type: typ, GroupID: p.GroupID, Name: g.Name, By: p.By})
	})
	return nil
}

func (c *changes) groupMemberLeft(e *events.Envelope, p *events.GroupMemberLeft) error {
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		_, err := q.GroupMemberRole(ctx, db.GroupMemberRoleParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID})
		if err != nil {
			return noRow(err) // not a member: nothing to record
		}
		// The feed row first: the leaver's interval ends at it, included.
		if err := groupFeed(ctx, q, e, p.GroupID, "group.member_left",
			wire.GroupChange{GroupID: p.GroupID, UserID: p.UserID, By: p.By}); err != nil {
			return err
		}
		seq := int64(e.Seq)
		if err := q.CloseGroupMembership(ctx, db.CloseGroupMembershipParams{ToSeq: &seq, App: e.App, GroupID: p.GroupID, UserID: p.UserID}); err != nil {
			return err
		}
		return q.DeleteGroupMember(ctx, db.DeleteGroupMemberParams{App: e.App, GroupID: p.GroupID, UserID: p.UserID})
	})
	return nil
}

// groupConversation records a conversation created in a group.
func (c *changes) groupConversation(e *events.Envelope, p *events.ConversationCreated) {
	if p.GroupID == "" {
		return
	}
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		return q.InsertGroupConversation(ctx, db.InsertGroupConversationParams{App: e.App, GroupID: p.GroupID,
			ConversationID: p.ConversationID, CreatedSeq: int64(e.Seq)})
	})
}

func (c *changes) settingsChanged(e *events.Envelope, p *events.SettingsChanged) error {
	c.notes = append(c.notes, noteOp{app: e.App, users: []string{p.UserID}, settings: &p.Settings})
	c.groupWrites = append(c.groupWrites, func(ctx context.Context, q *db.Queries) error {
		data := bridge.EncodeData(p.Settings)
		if err := q.UpsertUserSettings(ctx, db.UpsertUserSettingsParams{App: e.App, UserID: p.UserID, Settings: data, Seq: int64(e.Seq)}); err != nil {
			return err
		}
		return q.InsertUserFeed(ctx, db.InsertUserFeedParams{App: e.App, UserID: p.UserID, Seq: int64(e.Seq),
			Type: "settings.changed", At: e.At, Data: data})
	})
	return nil
}

// joinGroup makes user a member from e on.
func joinGroup(ctx context.Context, q *db.Queries, e *events.Envelope, group, user string, role events.Role) error {
	if err := q.UpsertGroupMember(ctx, db.UpsertGroupMemberParams{App: e.App, GroupID: group, UserID: user,
		Role: string(role), JoinedAt: e.At, JoinedSeq: int64(e.Seq)}); err != nil {
		return err
	}
	return q.OpenGroupMembership(ctx, db.OpenGroupMembershipParams{App: e.App, GroupID: group, UserID: user, FromSeq: int64(e.Seq)})
}

// groupFeed records one group delivery with its data as fan-out sends it.
func groupFeed(ctx context.Context, q *db.Queries, e *events.Envelope, group, typ string, data wire.GroupChange) error {
	return q.InsertGroupFeed(ctx, db.InsertGroupFeedParams{App: e.App, Seq: int64(e.Seq), GroupID: group, Type: typ,
		At: e.At, Data: bridge.EncodeData(data)})
}

// noRow is nil for a row that is not there (the event changes nothing).
func noRow(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// writeGroups applies the batch's group and user-room effects in log order.
func writeGroups(ctx context.Context, q *db.Queries, c *changes) error {
	for _, w := range c.groupWrites {
		if err := w(ctx, q); err != nil {
			return fmt.Errorf("write groups: %w", err)
		}
	}
	return nil
}
