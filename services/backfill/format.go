// Package backfill imports existing history (conversations, members, messages
// with their original ids and times) from a JSON Lines file into the log, as
// events every consumer sees like live traffic. Validation is pure and
// happens before anything is appended.
package backfill

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/strictjson"
)

// MaxLineBytes bounds one line of the file.
const MaxLineBytes = 1 << 20

// Record is one line of a backfill file. Type selects which fields apply.
type Record struct {
	Type string `json:"type"` // conversation | member | member_left | message
	App  string `json:"app"`

	// conversation
	ID              string          `json:"id"`
	Kind            string          `json:"kind"`
	Title           string          `json:"title"`
	CreatedBy       string          `json:"createdBy"`
	ReplyPermission string          `json:"replyPermission"`
	Members         []events.Member `json:"members"`

	// member, member_left and message
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Role           string `json:"role"`
	By             string `json:"by"`

	// message (ID is the message id)
	SenderID         string `json:"senderId"`
	SenderType       string `json:"senderType"`
	ClientMsgID      string `json:"clientMsgId"`
	Content          string `json:"content"`
	ContentType      string `json:"contentType"`
	ModerationStatus string `json:"moderationStatus"`

	At time.Time `json:"at"` // when it happened: creation, joining, leaving, posting
}

// LineError is a problem with one line.
type LineError struct {
	Line  int
	Field string
	Msg   string
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Msg)
}

// Item is one valid line turned into the events it appends.
type Item struct {
	Line   int
	Type   string
	Events []*events.Envelope
}

// File is a parsed and validated backfill file.
type File struct {
	Items   []Item
	Invalid []*LineError
	Lines   int
	// Digest identifies the file's content: the import ledger's key.
	Digest string
}

// Counts tallies valid items by type.
func (f *File) Counts() map[string]int {
	out := map[string]int{}
	for _, it := range f.Items {
		out[it.Type]++
	}
	return out
}

// Parse reads and validates a whole file. Lines are checked in order: a
// member or message must name a conversation created on an earlier line.
func Parse(r io.Reader, apps config.Apps, now time.Time) (*File, error) {
	f := &File{}
	h := sha256.New()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	v := validator{apps: apps, now: now, convs: map[string]int{}, msgs: map[string]int{}}
	for sc.Scan() {
		f.Lines++
		raw := sc.Bytes()
		h.Write(raw)
		h.Write([]byte{'\n'})
		if len(bytes.TrimSpace(raw)) == 0 || raw[0] == '#' {
			continue // blank lines and comments
		}
		it, err := v.line(f.Lines, raw)
		if err != nil {
			f.Invalid = append(f.Invalid, err)
			continue
		}
		f.Items = append(f.Items, it)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", f.Lines+1, MaxLineBytes)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	f.Digest = hex.EncodeToString(h.Sum(nil))[:32]
	return f, nil
}

type validator struct {
	apps  config.Apps
	now   time.Time
	convs map[string]int // app/id → line that created it
	msgs  map[string]int // app/id → line that posted it
}

func (v *validator) line(n int, raw []byte) (Item, *LineError) {
	bad := func(field, format string, args ...any) (Item, *LineError) {
		return Item{}, &LineError{Line: n, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	var r Record
	if err := strictjson.Decode(raw, &r); err != nil {
		var se *strictjson.Error
		errors.As(err, &se)
		return bad(se.Path, "%s", se.Msg)
	}
	app := v.apps[r.App]
	if app == nil {
		return bad("app", "unknown application %q", r.App)
	}
	if r.At.IsZero() {
		return bad("at", "required (RFC 3339 time)")
	}
	if r.At.After(v.now) {
		return bad("at", "%s is in the future", r.At.Format(time.RFC3339))
	}
	// The event id derives from the line's content: an identical line is
	// the same event, however often it is imported.
	sum := sha256.Sum256(raw)
	id := "bf-" + hex.EncodeToString(sum[:16])
	it := Item{Line: n, Type: r.Type}
	add := func(eid string, actor string, p events.Payload) *LineError {
		if err := p.Validate(); err != nil {
			field, msg, _ := strings.Cut(err.Error(), ": ")
			return &LineError{Line: n, Field: field, Msg: msg}
		}
		e, err := events.New(eid, r.App, r.At, events.Actor{ID: actor, Type: events.ActorSystem}, p)
		if err != nil {
			return &LineError{Line: n, Msg: err.Error()}
		}
		it.Events = append(it.Events, e)
		return nil
	}
	convKey := r.App + "/" + r.ConversationID
	switch r.Type {
	case "conversation":
		if prev, dup := v.convs[r.App+"/"+r.ID]; dup {
			return bad("id", "conversation %q already created on line %d", r.ID, prev)
		}
		perm := events.ReplyPermission(r.ReplyPermission)
		if perm == "" {
			perm = events.ReplyAll
		}
		if err := add(id, "backfill", &events.ConversationCreated{ConversationID: r.ID, Kind: events.ConversationKind(r.Kind),
			Title: r.Title, ReplyPermission: perm, CreatedBy: r.CreatedBy, Members: r.Members}); err != nil {
			if err.Field == "conversationId" {
				err.Field = "id"
			} else if err.Field == "type" {
				err.Field = "kind"
			}
			return Item{}, err
		}
		if r.Kind == string(events.KindOneToOne) && len(r.Members) != 2 {
			return bad("members", "a one_to_one conversation has exactly two members")
		}
		v.convs[r.App+"/"+r.ID] = n
	case "member", "member_left":
		if _, ok := v.convs[convKey]; !ok {
			return bad("conversationId", "conversation %q is not created on an earlier line", r.ConversationID)
		}
		by := r.By
		if by == "" {
			by = "backfill"
		}
		var p events.Payload = &events.MemberLeft{ConversationID: r.ConversationID, UserID: r.UserID, RemovedBy: by}
		if r.Type == "member" {
			role := events.Role(r.Role)
			if role == "" {
				role = events.RoleMember
			}
			p = &events.MemberJoined{ConversationID: r.ConversationID, UserID: r.UserID, Role: role, AddedBy: by}
		}
		if err := add(id, "backfill", p); err != nil {
			return Item{}, err
		}
	case "message":
		if _, ok := v.convs[convKey]; !ok {
			return bad("conversationId", "conversation %q is not created on an earlier line", r.ConversationID)
		}
		if prev, dup := v.msgs[r.App+"/"+r.ID]; dup {
			return bad("id", "message %q already posted on line %d", r.ID, prev)
		}
		if strings.TrimSpace(r.Content) == "" {
			return bad("content", "empty")
		}
		if len(r.Content) > app.Limits.MaxContentBytes {
			return bad("content", "%d bytes exceeds %d", len(r.Content), app.Limits.MaxContentBytes)
		}
		ct := events.ContentType(r.ContentType)
		if ct == "" {
			ct = events.ContentText
		}
		st := events.ActorType(r.SenderType)
		if st == "" {
			st = events.ActorUser
		}
		if st != events.ActorUser && st != events.ActorAnonymous && st != events.ActorSystem {
			return bad("senderType", "one of user, anonymous, system")
		}
		status := events.ModerationStatus(r.ModerationStatus)
		if status == "" {
			status = events.StatusApproved
		}
		if status != events.StatusApproved && status != events.StatusRejected {
			return bad("moderationStatus", "one of approved, rejected")
		}
		clientID := r.ClientMsgID
		if clientID == "" {
			clientID = r.ID
		}
		posted := &events.MessagePosted{MessageID: r.ID, ClientMsgID: clientID, ConversationID: r.ConversationID,
			SenderID: r.SenderID, SenderType: st, Content: r.Content, ContentType: ct, Imported: true}
		if err := add(id, r.SenderID, posted); err != nil {
			if err.Field == "messageId" {
				err.Field = "id"
			}
			return Item{}, err
		}
		// The decision goes with the message; PostedSeq is filled in once
		// the posting's position is known.
		if err := add(id+"-decision", "backfill", &events.MessageModerated{MessageID: r.ID, ConversationID: r.ConversationID,
			SenderID: r.SenderID, ClientMsgID: clientID, Status: status}); err != nil {
			return Item{}, err
		}
		v.msgs[r.App+"/"+r.ID] = n
	default:
		return bad("type", "one of conversation, member, member_left, message (got %q)", r.Type)
	}
	return it, nil
}
