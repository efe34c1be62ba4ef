package projections

import (
	"context"
	"encoding/json"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// announcementChanges is a batch's effect on the directory and the
// announcements: each directory user's last entry in the batch (one row per
// user and statement), the announcements created and their recipients.
type announcementChanges struct {
	directory     map[directoryKey]int // index in users
	users         db.UpsertDirectoryUsersParams
	announcements []db.InsertAnnouncementParams
	recipients    db.InsertAnnouncementRecipientsParams
}

type directoryKey struct{ app, user string }

func (c *changes) announcementsOf() *announcementChanges {
	if c.announcements == nil {
		c.announcements = &announcementChanges{directory: map[directoryKey]int{}}
	}
	return c.announcements
}

func (c *changes) directoryUsersUpdated(e *events.Envelope, p *events.DirectoryUsersUpdated) error {
	a := c.announcementsOf()
	u := &a.users
	for _, du := range p.Users {
		k := directoryKey{e.App, du.ID}
		if i, ok := a.directory[k]; ok {
			u.Entity[i], u.Role[i], u.Name[i], u.Active[i], u.UpdatedSeq[i] = du.Entity, du.Role, du.Name, du.Active, int64(e.Seq)
			continue
		}
		a.directory[k] = len(u.App)
		u.App, u.UserID, u.Entity, u.Role = append(u.App, e.App), append(u.UserID, du.ID), append(u.Entity, du.Entity), append(u.Role, du.Role)
		u.Name, u.Active, u.UpdatedSeq = append(u.Name, du.Name), append(u.Active, du.Active), append(u.UpdatedSeq, int64(e.Seq))
	}
	return nil
}

// announcementTargeted records a part: the announcement with its first
// part, the part's recipients, their participant rows and memberships, and
// the announcement.new each of them received (the feed row's audience), as
// fan-out delivered it. Recipients already members (a repeated part) are
// left as they are.
func (c *changes) announcementTargeted(e *events.Envelope, p *events.AnnouncementTargeted) error {
	conv := c.roster.Get(e.App, p.ConversationID)
	if conv == nil {
		return nil // no such conversation: fan-out delivers nothing either
	}
	a := c.announcementsOf()
	if p.Part == 1 {
		targets, err := json.Marshal(p.Targets)
		if err != nil {
			return err
		}
		a.announcements = append(a.announcements, db.InsertAnnouncementParams{App: e.App, ID: p.AnnouncementID,
			ConversationID: p.ConversationID, MessageID: p.MessageID, AuthorID: p.From, Title: p.Title, Content: p.Content,
			AttachmentID: optional(p.AttachmentID), ReplyPermission: string(p.ReplyPermission), Pinned: p.Pinned,
			ExpiresAt: p.ExpiresAt, Targets: targets, DirectorySeq: int64(p.DirectorySeq), Recipients: int32(p.Total),
			CreatedAt: e.At, Seq: int64(e.Seq)})
	}
	fresh := make([]string, 0, len(p.Recipients))
	r := &a.recipients
	for _, u := range p.Recipients {
		r.App, r.AnnouncementID, r.UserID, r.Seq = append(r.App, e.App), append(r.AnnouncementID, p.AnnouncementID), append(r.UserID, u), append(r.Seq, int64(e.Seq))
		if !conv.IsMember(u) {
			fresh = append(fresh, u)
			c.join(e, p.ConversationID, u, events.RoleMember)
			c.open(e, p.ConversationID, u, events.RoleMember)
		}
	}
	_ = c.roster.Apply(e)
	if len(fresh) > 0 {
		c.addFeed(e, p.ConversationID, "announcement.new", nil, wire.AnnouncementFromEvent(p), roster.Audience{Users: fresh})
	}
	return nil
}

// writeAnnouncements sends the batch's directory and announcement rows.
func writeAnnouncements(ctx context.Context, q *db.Queries, c *changes, keep func(int, error)) {
	a := c.announcements
	if a == nil {
		return
	}
	if len(a.users.App) > 0 {
		keep(0, q.UpsertDirectoryUsers(ctx, a.users))
	}
	if len(a.announcements) > 0 {
		q.InsertAnnouncement(ctx, a.announcements).Exec(keep)
	}
	if len(a.recipients.App) > 0 {
		keep(0, q.InsertAnnouncementRecipients(ctx, a.recipients))
	}
}
