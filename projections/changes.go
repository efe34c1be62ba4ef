package projections

import (
	"errors"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// changes is the net effect of a run of events on the tables, folded in
// memory so a batch becomes a few bulk statements in a fixed order. Folding
// is exact: a member who joins and leaves in one batch ends up absent, a
// message posted and moderated in one batch is inserted with its decision.
type changes struct {
	conversations []db.InsertConversationParams
	members       map[memberKey]*memberChange
	memberOrder   []memberKey
	messages      []messageRow
	messageIndex  map[msgKey]int
	moderations   []db.ModerateMessageParams
	// held are every hold of a message (sync owes the sender a result for
	// each one a later decision replaced).
	held []db.InsertHeldDecisionParams
	// edits and deletions apply after the rows above, each in log order.
	// An edit never follows a deletion in the log (services/decide refuses
	// it), and the statements keep a tombstone a tombstone regardless, so
	// applying every edit before every deletion gives the same rows.
	edits     []db.EditMessageParams
	deletions []db.DeleteMessageParams
	// receipts are every receipt's row; positions each participant's
	// furthest read and delivered positions in the batch since their last
	// join or leave in it (positionRuns, in log order, are all of them),
	// applied after the participant rows (a position only ever moves
	// forward, and only on a row that existed at the receipt's position).
	receipts     []db.InsertReceiptParams
	positions    map[memberKey]*positions
	positionRuns []*positions
	// known, in replays, holds every message already written: a repeated
	// posting is skipped here, so new rows can be copied without conflicts.
	// knownKeys are the keys of messages, known once committed.
	known     *knownMessages
	knownKeys []knownKey

	// What sync reads (sync.go): the roster at the batch's position, folded
	// as events apply, decides memberships and audiences as fan-out does.
	roster          *roster.Roster
	apps            config.Apps
	memberships     map[memberKey]*membershipChange
	membershipOrder []memberKey
	feed            []db.InsertFeedParams
	scrubs          []db.ScrubEditsParams

	conversationChanges // admins' changes and last messages (conversations.go)
	// groupWrites are the group and user-room effects, in log order (groups.go).
	groupWrites []groupWrite
	// notes are the conversations' notifications and the settings changes
	// deciding them, in log order (notifications.go).
	notes []noteOp
	// announcements, when the batch has any (announcements.go).
	announcements *announcementChanges
	// conversions rewrite rows written before them: a batch holds one at
	// most, as its first event (see rewrites), and it is written first.
	conversions []db.ConvertVisitorParams
	// earlier are segments written before this one whose messages are not
	// known yet (the batch's own before a rewrite, and a replay's batch
	// being written meanwhile): a repeat of one is skipped, as known does.
	earlier []*changes
}

type memberKey struct{ app, conv, user string }

// memberChange is the net effect on one participant row: removed says the
// row present before the batch goes (the member left at some point), join,
// when set, is the row after the batch. A member who leaves and rejoins in
// one batch gets both: the old row is deleted and the new one inserted.
type memberChange struct {
	removed bool
	join    *participantRow
	// update is the participant's role and reply override an admin set
	// last, applied after the row is written; a leave drops it.
	update *db.UpdateParticipantParams
}

// participantRow is a participant as a batch leaves it.
type participantRow struct {
	role      string
	joinedAt  time.Time
	joinedSeq int64
}
type msgKey struct{ app, id string }

// positions are one participant's furthest receipts in a batch.
type positions struct {
	read      *db.AdvanceReadParams
	delivered *db.AdvanceDeliveredParams
}

func newChanges(known *knownMessages, r *roster.Roster, apps config.Apps) *changes {
	return &changes{
		known:        known,
		members:      map[memberKey]*memberChange{},
		messageIndex: map[msgKey]int{},
		positions:    map[memberKey]*positions{},
		roster:       r,
		apps:         apps,
		memberships:  map[memberKey]*membershipChange{},
	}
}

// reserve sizes the message rows and their index for the postings among
// evs, so that a replay's batch of thousands of messages does not copy its
// rows again each time they outgrow their array.
func (c *changes) reserve(evs []*events.Envelope) {
	n := 0
	for _, e := range evs {
		if e.Type == events.TypeMessagePosted {
			n++
		}
	}
	if n > 0 {
		c.messages = make([]messageRow, 0, n)
		c.messageIndex = make(map[msgKey]int, n)
	}
}

// effects declares each event type's effect on the read model.
var effects = func() *events.Router[*changes] {
	r := events.NewRouter[*changes]("projector")
	events.On(r, (*changes).conversationCreated)
	events.On(r, (*changes).memberJoined)
	events.On(r, (*changes).memberLeft)
	events.On(r, (*changes).messagePosted)
	events.On(r, (*changes).messageModerated)
	events.On(r, (*changes).messageEdited)
	events.On(r, (*changes).messageDeleted)
	events.On(r, (*changes).deliveryReceipt)
	events.On(r, (*changes).readReceipt)
	events.On(r, (*changes).conversationUpdated)
	events.On(r, (*changes).participantUpdated)
	events.On(r, (*changes).groupCreated)
	events.On(r, (*changes).groupUpdated)
	events.On(r, (*changes).groupJoinRequested)
	events.On(r, (*changes).groupJoinRefused)
	events.On(r, (*changes).groupMemberJoined)
	events.On(r, (*changes).groupMemberLeft)
	events.On(r, (*changes).settingsChanged)
	events.On(r, (*changes).notificationsRead)
	events.On(r, (*changes).directoryUsersUpdated)
	events.On(r, (*changes).announcementTargeted)
	events.On(r, (*changes).converted)
	events.On(r, (*changes).transferred)
	r.Ignore(events.TypeServiceAccountCreated, events.TypeWebhooksChanged, // internal: not in the read model
		events.TypeAnonymousUserCreated, events.TypeFileUploaded, events.TypeFileExpired,
		events.TypeModerationRulesChanged) // read from the log by GET /moderation/rules
	return r
}()

// add folds one event with r's effects (nil: the read model's own). The
// error is a handler's panic (a *events.PanicError naming the event); the
// read model ignores events that do not decode (the reader parks those
// before this point).
func (c *changes) add(r *events.Router[*changes], e *events.Envelope) error {
	if r == nil {
		r = effects
	}
	err := r.Handle(c, e)
	var panicked *events.PanicError
	if errors.As(err, &panicked) {
		return err
	}
	return nil
}

func (c *changes) conversationCreated(e *events.Envelope, p *events.ConversationCreated) error {
	c.conversations = append(c.conversations, db.InsertConversationParams{
		App: e.App, ID: p.ConversationID, Kind: string(p.Kind), Title: p.Title,
		ReplyPermission: string(p.ReplyPermission), CreatedBy: p.CreatedBy, CreatedAt: e.At, CreatedSeq: int64(e.Seq),
	})
	for _, m := range p.Members {
		c.join(e, p.ConversationID, m.UserID, m.Role)
	}
	c.notifyCreated(e, p)
	c.syncCreated(e, p)
	c.groupConversation(e, p)
	return nil
}

func (c *changes) memberJoined(e *events.Envelope, p *events.MemberJoined) error {
	c.join(e, p.ConversationID, p.UserID, p.Role)
	c.notifyJoined(e, p)
	c.syncJoined(e, p)
	return nil
}

func (c *changes) memberLeft(e *events.Envelope, p *events.MemberLeft) error {
	k := memberKey{e.App, p.ConversationID, p.UserID}
	mc := c.member(k)
	mc.removed, mc.join, mc.update = true, nil, nil
	if pos := c.positions[k]; pos != nil {
		*pos = positions{} // they went with the row
		delete(c.positions, k)
	}
	c.syncLeft(e, p)
	return nil
}

func (c *changes) messagePosted(e *events.Envelope, p *events.MessagePosted) error {
	k := msgKey{e.App, p.MessageID}
	if _, dup := c.messageIndex[k]; dup {
		return nil
	}
	var key knownKey
	if c.known != nil {
		if key = c.known.key(k); c.known.has(key) {
			return nil
		}
	}
	for _, w := range c.earlier {
		if _, dup := w.messageIndex[k]; dup {
			return nil
		}
	}
	c.messageIndex[k] = len(c.messages)
	if c.known != nil {
		c.knownKeys = append(c.knownKeys, key)
	}
	c.messages = append(c.messages, messageRow{
		App: e.App, ID: p.MessageID, ConversationID: p.ConversationID, ClientMsgID: p.ClientMsgID,
		SenderID: p.SenderID, SenderType: string(p.SenderType), Content: p.Content, ContentType: string(p.ContentType),
		AttachmentID: optional(p.AttachmentID), ReplyTo: optional(p.ReplyTo), CreatedAt: e.At, Seq: int64(e.Seq),
		ModerationStatus: string(events.StatusPending),
	})
	return nil
}

func (c *changes) messageModerated(e *events.Envelope, p *events.MessageModerated) error {
	seq := int64(e.Seq)
	reason := optional(p.Reason)
	if p.Status == events.StatusPending {
		c.held = append(c.held, db.InsertHeldDecisionParams{App: e.App, MessageID: p.MessageID, Seq: seq, At: e.At, Reason: reason})
	}
	if i, ok := c.messageIndex[msgKey{e.App, p.MessageID}]; ok {
		m := &c.messages[i]
		// The first decision stands, unless it held the message for
		// review: the review's replaces it.
		if m.ModeratedSeq == nil || m.ModerationStatus == string(events.StatusPending) {
			m.ModerationStatus, m.ModerationReason, m.ModeratedSeq, m.ModeratedAt = string(p.Status), reason, &seq, &e.At
		}
		c.approved(e, p, m)
		return nil
	}
	c.approved(e, p, nil)
	c.moderations = append(c.moderations, db.ModerateMessageParams{
		App: e.App, ID: p.MessageID, ModerationStatus: string(p.Status), ModerationReason: reason, ModeratedSeq: &seq,
		ModeratedAt: &e.At,
	})
	return nil
}

func (c *changes) messageEdited(e *events.Envelope, p *events.MessageEdited) error {
	c.edits = append(c.edits, db.EditMessageParams{App: e.App, ID: p.MessageID, Content: p.Content, EditedAt: &e.At})
	c.syncMessageChange(e, p.ConversationID, p.MessageID, "message.edited", wire.MessageEdited(p, e.At))
	return nil
}

func (c *changes) messageDeleted(e *events.Envelope, p *events.MessageDeleted) error {
	c.deletions = append(c.deletions, db.DeleteMessageParams{App: e.App, ID: p.MessageID, DeletedAt: &e.At})
	c.syncMessageChange(e, p.ConversationID, p.MessageID, "message.deleted", wire.MessageDeleted(p, e.At))
	c.scrubs = append(c.scrubs, db.ScrubEditsParams{App: e.App, ConversationID: p.ConversationID, MessageID: &p.MessageID,
		DeletedSeq: int64(e.Seq)})
	return nil
}

func (c *changes) deliveryReceipt(e *events.Envelope, p *events.DeliveryReceipt) error {
	pos := c.receipt(e, &p.Receipt, "delivered")
	if pos.delivered == nil || pos.delivered.Seq < int64(p.MessageSeq) {
		pos.delivered = &db.AdvanceDeliveredParams{App: e.App, ConversationID: p.ConversationID, UserID: p.UserID,
			Seq: int64(p.MessageSeq), MessageID: &p.MessageID, At: &e.At, EventSeq: int64(e.Seq)}
	}
	return nil
}

func (c *changes) readReceipt(e *events.Envelope, p *events.ReadReceipt) error {
	pos := c.receipt(e, &p.Receipt, "read")
	if pos.read == nil || pos.read.Seq < int64(p.MessageSeq) {
		pos.read = &db.AdvanceReadParams{App: e.App, ConversationID: p.ConversationID, UserID: p.UserID,
			Seq: int64(p.MessageSeq), MessageID: &p.MessageID, At: &e.At, EventSeq: int64(e.Seq)}
	}
	return nil
}

// receipt records a receipt's row and returns its participant's positions.
func (c *changes) receipt(e *events.Envelope, r *events.Receipt, kind string) *positions {
	seq := int64(e.Seq)
	c.receipts = append(c.receipts, db.InsertReceiptParams{App: e.App, ConversationID: r.ConversationID, UserID: r.UserID,
		Kind: kind, Seq: int64(r.MessageSeq), At: e.At, EventSeq: &seq, MessageID: &r.MessageID,
		Audience: c.receiptAudience(e, r)})
	k := memberKey{e.App, r.ConversationID, r.UserID}
	pos := c.positions[k]
	if pos == nil {
		pos = &positions{}
		c.positions[k] = pos
		c.positionRuns = append(c.positionRuns, pos)
	}
	return pos
}

func (c *changes) member(k memberKey) *memberChange {
	mc := c.members[k]
	if mc == nil {
		mc = &memberChange{}
		c.members[k] = mc
		c.memberOrder = append(c.memberOrder, k)
	}
	return mc
}

func (c *changes) join(e *events.Envelope, conv, user string, role events.Role) {
	k := memberKey{e.App, conv, user}
	// A join may create the row (the member was absent before the batch):
	// receipts before it never reach that row, those after do. Each run
	// applies on its own (AdvanceRead's condition on the row's join).
	delete(c.positions, k)
	mc := c.member(k)
	if mc.update != nil {
		mc.update.Role = string(role) // applied after the row: it must carry the last role
	}
	if mc.join != nil {
		mc.join.role = string(role) // a member's role changes; when they joined does not
		return
	}
	mc.join = &participantRow{role: string(role), joinedAt: e.At, joinedSeq: int64(e.Seq)}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
