package decide

import (
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/idkey"
	"github.com/chatbackend/chat/services/roster"
)

// State is one conversation as of position Pos of the log: what the command
// side needs to decide a command about it. It is folded from that
// conversation's events only, in log order, with the roster's rules.
type State struct {
	App, ID string
	// Pos is the stream sequence of the last event folded (0: none yet).
	Pos uint64
	// roster holds this one conversation; Conversation reads it.
	roster *roster.Roster
	// Profile is what the roster does not keep: the attributes a
	// conversation.updated repeats.
	Profile Profile
	// msgs are the conversation's messages, without their content: no
	// decision needs it (postings.go; Message reads one).
	msgs postings
	// read and delivered are each member's receipt positions: the position
	// of the last message they read, or received.
	read, delivered map[string]uint64
	// done holds the ids of the edits, deletes and reviews already in the log, so a
	// command repeated after the log's deduplication window is recognised.
	// Keys, not strings: every moderation decision adds one.
	done map[idkey.Key]struct{}
	// Group is the group (team) the conversation belongs to, if any.
	Group string
	// visitor is the anonymous visitor who started the conversation, if
	// one did (anonymous.go).
	visitor *Visitor
	// files are the uploads for the conversation, by id (files.go).
	files map[string]*File
}

// Message is what decisions need about one message.
type Message struct {
	ID          string
	ClientMsgID string
	SenderID    string
	SenderType  events.ActorType
	ContentType events.ContentType
	Attachment  string
	ReplyTo     string
	PostedAt    time.Time
	PostedSeq   uint64
	// Status is moderation's decision, empty while it is pending.
	Status    events.ModerationStatus
	EditedAt  time.Time // zero: never edited
	DeletedAt time.Time // zero: not deleted
}

// NewState returns the state of a conversation before its first event.
func NewState(app, id string) *State {
	return &State{App: app, ID: id, roster: roster.New(), msgs: newPostings(), done: map[idkey.Key]struct{}{},
		read: map[string]uint64{}, delivered: map[string]uint64{}, files: map[string]*File{}}
}

// Conversation is the membership view, nil while the log has not created it.
func (s *State) Conversation() *roster.Conversation { return s.roster.Get(s.App, s.ID) }

// Done reports whether the log already holds the command event with id.
func (s *State) Done(id string) bool {
	_, ok := s.done[idkey.Of(s.App, id)]
	return ok
}

func (s *State) markDone(id string) { s.done[idkey.Of(s.App, id)] = struct{}{} }

// Message is message id of the conversation, if the log has posted it there.
func (s *State) Message(id string) (Message, bool) {
	p := s.msgs.find(s.App, id)
	if p == nil {
		return Message{}, false
	}
	return s.msgs.message(id, p), true
}

// folds declares what each event type changes in a State.
var folds = func() *events.Router[*State] {
	r := events.NewRouter[*State]("decide")
	events.On(r, (*State).posted)
	events.On(r, (*State).moderated)
	events.On(r, (*State).edited)
	events.On(r, (*State).deleted)
	events.On(r, (*State).deliveryReceipt)
	events.On(r, (*State).readReceipt)
	events.On(r, (*State).left)
	events.On(r, (*State).created)
	events.On(r, (*State).updated)
	events.On(r, (*State).targeted)
	events.On(r, (*State).visitorCreated)
	events.On(r, (*State).converted)
	events.On(r, (*State).fileUploaded)
	events.On(r, (*State).fileExpired)
	r.Ignore(events.TypeMemberJoined, events.TypeParticipantUpdated, // folded by the roster
		events.TypeServiceAccountCreated, events.TypeWebhooksChanged, events.TypeModerationRulesChanged,
		events.TypeSettingsChanged, events.TypeNotificationsRead, events.TypeDirectoryUsersUpdated,
		events.TypeConversationTransferred)
	r.Ignore(events.GroupTypes...) // a group's own state: GroupState
	return r
}()

// Apply folds one event of the conversation at its position. Events of other
// conversations or applications are ignored, and so are those stored before
// the conversation's creation (sends to an id not created yet, which
// moderation rejects): a state folded from the whole log and one born from
// the creation event (Follow) are the same. The error is a payload that
// does not decode or a fold's panic; the state still advances past it, as
// the consumers park such an event and go on.
func (s *State) Apply(e *events.Envelope) error {
	if e.Seq > s.Pos {
		s.Pos = e.Seq
	}
	if e.App != s.App || s.Conversation() == nil && e.Type != events.TypeConversationCreated {
		return nil
	}
	if err := s.roster.Apply(e); err != nil {
		return err
	}
	return folds.Handle(s, e)
}

func (s *State) posted(e *events.Envelope, p *events.MessagePosted) error {
	if p.ConversationID == s.ID {
		s.msgs.add(s.App, p, e.At, e.Seq) // folded in log order: sorted by position
	}
	return nil
}

func (s *State) moderated(e *events.Envelope, p *events.MessageModerated) error {
	s.markDone(e.ID)
	// The first decision stands, unless it held the message for review:
	// the review's decides.
	if m := s.msgs.find(s.App, p.MessageID); m != nil {
		if st := s.msgs.status(m); st == "" || st == events.StatusPending {
			m.status = s.msgs.word(string(p.Status))
		}
	}
	return nil
}

func (s *State) edited(e *events.Envelope, p *events.MessageEdited) error {
	s.markDone(e.ID)
	if m := s.msgs.find(s.App, p.MessageID); m != nil && m.deletedAt == 0 {
		m.editedAt = e.At.UnixMicro()
	}
	return nil
}

func (s *State) deleted(e *events.Envelope, p *events.MessageDeleted) error {
	s.markDone(e.ID)
	if m := s.msgs.find(s.App, p.MessageID); m != nil && m.deletedAt == 0 {
		m.deletedAt, m.editedAt = e.At.UnixMicro(), 0
	}
	return nil
}

func (s *State) deliveryReceipt(_ *events.Envelope, p *events.DeliveryReceipt) error {
	if p.ConversationID == s.ID {
		s.delivered[p.UserID] = max(s.delivered[p.UserID], p.MessageSeq)
	}
	return nil
}

func (s *State) readReceipt(_ *events.Envelope, p *events.ReadReceipt) error {
	if p.ConversationID == s.ID {
		s.read[p.UserID] = max(s.read[p.UserID], p.MessageSeq)
	}
	return nil
}

// left forgets a leaver's receipt positions, as the read model drops their
// participant row: back as a member, they start again from nothing.
func (s *State) left(_ *events.Envelope, p *events.MemberLeft) error {
	if p.ConversationID == s.ID {
		delete(s.read, p.UserID)
		delete(s.delivered, p.UserID)
	}
	return nil
}
