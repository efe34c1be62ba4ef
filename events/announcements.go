package events

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Announcement events: an admin informs an audience resolved from the
// directory (PROTOCOL §3). An announcement is a broadcast conversation
// (ConversationCreated with its author alone), its message (MessagePosted
// marked Announcement, with the command side's MessageModerated), then its
// audience in one or more AnnouncementTargeted parts, each adding its
// recipients as members and telling them announcement.new.
const TypeAnnouncementTargeted Type = "AnnouncementTargeted"

// TargetAll in a target's entity or role matches every entity or role.
const TargetAll = "all"

// MaxRecipientsPerEvent bounds one AnnouncementTargeted part: at most about
// 340 KB of ids, under the log's 1 MiB message limit with the longest ids,
// title and content (8,000 bytes, up to 48,000 escaped). 100,000 recipients
// are 20 parts.
const MaxRecipientsPerEvent = 5000

// Target selects directory users by entity and role, each an id or "all".
type Target struct {
	Entity string `json:"entity"`
	Role   string `json:"role"`
}

// Validate checks a target's form; whether the entity and role exist, and
// whether the author may target them, is decided against the directory.
func (t Target) Validate() error {
	if t.Entity != TargetAll && !ValidID(t.Entity) {
		return fmt.Errorf("entity: %q is neither all nor a valid id", t.Entity)
	}
	if t.Role != TargetAll && !ValidID(t.Role) {
		return fmt.Errorf("role: %q is neither all nor a valid role", t.Role)
	}
	return nil
}

// AnnouncementTargeted is one part of an announcement's audience. Every part
// repeats the announcement itself, so each delivery needs no lookup. The
// audience was resolved once, by the command side, from the directory at
// DirectorySeq (the log's last directory event when the announcement was
// created, which its creation was conditioned on): the recipients are
// recorded, never resolved again, so a replay and a later directory change
// leave them as they were.
type AnnouncementTargeted struct {
	AnnouncementID  string          `json:"announcementId"`
	ConversationID  string          `json:"conversationId"`
	MessageID       string          `json:"messageId"`
	From            string          `json:"from"`
	Title           string          `json:"title"`
	Content         string          `json:"content"`
	AttachmentID    string          `json:"attachmentId,omitempty"`
	ReplyPermission ReplyPermission `json:"replyPermission"`
	Pinned          bool            `json:"pinned"`
	ExpiresAt       *time.Time      `json:"expiresAt,omitempty"`
	Targets         []Target        `json:"targets"`
	DirectorySeq    uint64          `json:"directorySeq"`
	// Part is this part's number, from 1 to Parts; Total counts the
	// recipients of every part.
	Part  int `json:"part"`
	Parts int `json:"parts"`
	Total int `json:"total"`
	// Recipients are this part's users, sorted, each once across parts.
	Recipients []string `json:"recipients"`
}

func (*AnnouncementTargeted) EventType() Type   { return TypeAnnouncementTargeted }
func (e *AnnouncementTargeted) scopeID() string { return e.ConversationID }
func (e *AnnouncementTargeted) Validate() error {
	if err := checkIDs("announcementId", e.AnnouncementID, "conversationId", e.ConversationID,
		"messageId", e.MessageID, "from", e.From); err != nil {
		return err
	}
	if strings.TrimSpace(e.Title) == "" {
		return errors.New("title: empty")
	}
	if err := checkText("title", e.Title); err != nil {
		return err
	}
	if err := checkText("content", e.Content); err != nil {
		return err
	}
	if e.AttachmentID != "" && !ValidID(e.AttachmentID) {
		return fmt.Errorf("attachmentId: invalid id %q", e.AttachmentID)
	}
	if !e.ReplyPermission.Valid() {
		return fmt.Errorf("replyPermission: unknown value %q", e.ReplyPermission)
	}
	if len(e.Targets) == 0 {
		return errors.New("targets: empty")
	}
	for i, t := range e.Targets {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("targets[%d].%w", i, err)
		}
	}
	if e.Parts < 1 || e.Part < 1 || e.Part > e.Parts {
		return fmt.Errorf("part: %d of %d", e.Part, e.Parts)
	}
	if len(e.Recipients) == 0 || len(e.Recipients) > MaxRecipientsPerEvent {
		return fmt.Errorf("recipients: 1 to %d per part, not %d", MaxRecipientsPerEvent, len(e.Recipients))
	}
	if e.Total < len(e.Recipients) {
		return fmt.Errorf("total: %d is fewer than this part's %d recipients", e.Total, len(e.Recipients))
	}
	for i, r := range e.Recipients {
		if !ValidID(r) {
			return fmt.Errorf("recipients[%d]: invalid id %q", i, r)
		}
		if i > 0 && r <= e.Recipients[i-1] {
			return fmt.Errorf("recipients[%d]: %q is not after %q (sorted, each once)", i, r, e.Recipients[i-1])
		}
	}
	return nil
}

// AnnouncementID is the id of the announcement an author creates with
// clientMsgID: derived, so the same request retried is one announcement.
// It is also the id of its conversation.
func AnnouncementID(app, author, clientMsgID string) string {
	return "a" + digest("announcement", app, author, clientMsgID)
}
