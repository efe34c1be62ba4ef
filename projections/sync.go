package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// What GET /sync reads. The projector folds the log into a roster as fan-out
// does (services/roster: the same membership, the same audience rules), so
// the read model says who received each delivery:
//
//   - memberships: each user's membership intervals, join to leave inclusive;
//   - conversation_feed: conversation.created, conversation.updated,
//     member.joined, member.updated, member.left, message.edited and
//     message.deleted, with their data as delivered;
//   - receipts and messages carry their deliveries' positions and times
//     (message.new and moderation.result are derived from a message's row).
//
// An audience is recorded only when the rule picks a subset of the members;
// NULL means every member at the position. A message costs no extra row.

// membershipChange is the net effect of a batch on one user's memberships of
// one conversation: the membership open before the batch may end (closeAt)
// or change role, and memberships may start (opened, the last one possibly
// still open).
type membershipChange struct {
	closeAt *int64
	role    *string
	opened  []membershipRow
}

// membershipRow is a membership a batch opens; toSeq is nil while it lasts.
type membershipRow struct {
	fromSeq int64
	toSeq   *int64
	role    string
}

func (c *changes) membership(k memberKey) *membershipChange {
	mc := c.memberships[k]
	if mc == nil {
		mc = &membershipChange{}
		c.memberships[k] = mc
		c.membershipOrder = append(c.membershipOrder, k)
	}
	return mc
}

// open starts user's membership at e.
func (c *changes) open(e *events.Envelope, conv, user string, role events.Role) {
	mc := c.membership(memberKey{e.App, conv, user})
	mc.opened = append(mc.opened, membershipRow{fromSeq: int64(e.Seq), role: string(role)})
}

// setRole changes the role of user's open membership.
func (c *changes) setRole(app, conv, user string, role events.Role) {
	mc := c.membership(memberKey{app, conv, user})
	if n := len(mc.opened); n > 0 && mc.opened[n-1].toSeq == nil {
		mc.opened[n-1].role = string(role)
		return
	}
	r := string(role)
	mc.role = &r
}

// close ends user's open membership at e.
func (c *changes) close(e *events.Envelope, conv, user string) {
	mc := c.membership(memberKey{e.App, conv, user})
	seq := int64(e.Seq)
	if n := len(mc.opened); n > 0 && mc.opened[n-1].toSeq == nil {
		mc.opened[n-1].toSeq = &seq
		return
	}
	mc.closeAt = &seq
}

// limits are e's application's audience bounds; an application not
// configured has no client to deliver to, and gets the default.
func (c *changes) limits(app string) (memberEvents, receipts int) {
	if a := c.apps[app]; a != nil {
		return a.Limits.MemberEventsUpTo, a.Limits.ReceiptsToAllUpTo
	}
	return int(^uint(0) >> 1), int(^uint(0) >> 1)
}

// addFeed records one delivery of a conversation.
func (c *changes) addFeed(e *events.Envelope, conv, typ string, messageID *string, data any, who roster.Audience) {
	c.feed = append(c.feed, db.InsertFeedParams{App: e.App, Seq: int64(e.Seq), ConversationID: conv, Type: typ,
		At: e.At, MessageID: messageID, Data: bridge.EncodeData(data), Audience: recorded(who)})
}

// allMembers is the audience of a delivery to every member at its position.
var allMembers = roster.Audience{All: true}

// recorded is an audience as stored: nil for every member, else the users,
// sorted so a replay writes the same row.
func recorded(who roster.Audience) []string {
	if who.All {
		return nil
	}
	out := slices.Clone(who.Users)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

func (c *changes) syncCreated(e *events.Envelope, p *events.ConversationCreated) {
	if c.roster.Get(e.App, p.ConversationID) != nil {
		return // created before: a repeat
	}
	_ = c.roster.Apply(e)
	for _, m := range p.Members {
		c.open(e, p.ConversationID, m.UserID, m.Role)
	}
	c.addFeed(e, p.ConversationID, "conversation.created", nil, p, allMembers)
}

func (c *changes) syncJoined(e *events.Envelope, p *events.MemberJoined) {
	conv := c.roster.Get(e.App, p.ConversationID)
	if conv == nil {
		return // no such conversation: the roster ignores it too
	}
	role, member := conv.Members[p.UserID]
	if member && role == p.Role {
		return // a repeat
	}
	_ = c.roster.Apply(e)
	if member {
		c.setRole(e.App, p.ConversationID, p.UserID, p.Role)
	} else {
		c.open(e, p.ConversationID, p.UserID, p.Role)
	}
	upTo, _ := c.limits(e.App)
	c.addFeed(e, p.ConversationID, "member.joined", nil,
		wire.MemberChange{ConversationID: p.ConversationID, UserID: p.UserID, Role: string(p.Role), By: p.AddedBy},
		conv.ToldOfMember(p.UserID, upTo))
}

func (c *changes) syncLeft(e *events.Envelope, p *events.MemberLeft) {
	conv := c.roster.Get(e.App, p.ConversationID)
	if conv == nil || !conv.IsMember(p.UserID) {
		return
	}
	upTo, _ := c.limits(e.App)
	c.addFeed(e, p.ConversationID, "member.left", nil,
		wire.MemberChange{ConversationID: p.ConversationID, UserID: p.UserID, By: p.RemovedBy},
		conv.ToldOfMember(p.UserID, upTo))
	c.close(e, p.ConversationID, p.UserID)
	_ = c.roster.Apply(e)
}

// syncMessageChange records an edit's or a deletion's delivery to the
// members at its position.
func (c *changes) syncMessageChange(e *events.Envelope, conv, messageID, typ string, data wire.Message) {
	if c.roster.Get(e.App, conv) == nil {
		return
	}
	c.addFeed(e, conv, typ, &messageID, data, roster.Audience{All: true})
}

// receiptAudience is who receives a receipt, as recorded.
func (c *changes) receiptAudience(e *events.Envelope, r *events.Receipt) []string {
	conv := c.roster.Get(e.App, r.ConversationID)
	if conv == nil {
		return []string{} // no delivery
	}
	_, upTo := c.limits(e.App)
	return recorded(conv.ToldOfReceipt(r, upTo))
}

// writeSync sends what sync reads, after the rows it depends on, in tx
// (whose queries are q).
func writeSync(ctx context.Context, tx pgx.Tx, q *db.Queries, c *changes, keep func(int, error)) {
	var closes []db.CloseMembershipParams
	var roles []db.SetMembershipRoleParams
	var opens db.InsertMembershipsParams
	for _, k := range c.membershipOrder {
		mc := c.memberships[k]
		if mc.closeAt != nil {
			closes = append(closes, db.CloseMembershipParams{ToSeq: mc.closeAt, App: k.app, ConversationID: k.conv, UserID: k.user})
		}
		if mc.role != nil {
			roles = append(roles, db.SetMembershipRoleParams{Role: *mc.role, App: k.app, ConversationID: k.conv, UserID: k.user})
		}
		for _, m := range mc.opened {
			var to int64 // 0: still open
			if m.toSeq != nil {
				to = *m.toSeq
			}
			opens.App, opens.ConversationID, opens.UserID = append(opens.App, k.app), append(opens.ConversationID, k.conv), append(opens.UserID, k.user)
			opens.FromSeq, opens.ToSeq, opens.Role = append(opens.FromSeq, m.fromSeq), append(opens.ToSeq, to), append(opens.Role, m.role)
		}
	}
	// The membership open before the batch takes its last role, then may
	// end, before the new ones open: these statements touch the open row.
	if len(roles) > 0 {
		q.SetMembershipRole(ctx, roles).Exec(keep)
	}
	if len(closes) > 0 {
		q.CloseMembership(ctx, closes).Exec(keep)
	}
	switch {
	case len(opens.App) > 0 && c.known != nil:
		keep(0, copyMemberships(ctx, tx, opens))
	case len(opens.App) > 0:
		keep(0, q.InsertMemberships(ctx, opens))
	}
	if len(c.feed) > 0 {
		q.InsertFeed(ctx, c.feed).Exec(keep)
	}
	if len(c.scrubs) > 0 { // after the feed: edits of the same batch too
		q.ScrubEdits(ctx, c.scrubs).Exec(keep)
	}
}

// loadRoster reads the roster at the read model's position from the open
// memberships.
func loadRoster(ctx context.Context, q *db.Queries) (*roster.Roster, error) {
	rows, err := q.OpenMemberships(ctx)
	if err != nil {
		return nil, fmt.Errorf("load roster: %w", err)
	}
	r := roster.New()
	for _, row := range rows {
		c := r.Get(row.App, row.ID)
		if c == nil {
			c = &roster.Conversation{Kind: events.ConversationKind(row.Kind), ReplyPermission: events.ReplyPermission(row.ReplyPermission),
				CreatedBy: row.CreatedBy, Members: map[string]events.Role{}, Title: row.Title, Pinned: row.Pinned,
				CreatedAt: row.CreatedAt, Closed: row.ClosedAt != nil}
			if err := json.Unmarshal(row.Settings, &c.Settings); err != nil {
				return nil, fmt.Errorf("load roster: settings of %s: %w", row.ID, err)
			}
			if len(c.Settings) == 0 {
				c.Settings = nil // as folded from the log before any change
			}
			r.Put(row.App, row.ID, c)
		}
		if row.UserID != nil && row.Role != nil {
			c.Members[*row.UserID] = events.Role(*row.Role)
		}
	}
	return r, nil
}
