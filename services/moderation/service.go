package moderation

import (
	"context"
	"log/slog"
	"slices"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/idkey"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/roster"
)

// Service is the moderation consumer. Its state (membership and the set of
// messages already decided) is folded from the log; see jet.Stateful.
type Service struct {
	apps config.Apps
	// outbox appends the decisions; the next events are decided while the
	// log acknowledges them (Flush confirms them before the events behind
	// them are acknowledged).
	outbox *jet.Outbox
	log    *slog.Logger
	roster *roster.Roster
	// seen holds every message id posted so far, with the conversation it
	// was posted in (the zero key if that did not exist), for replies to
	// name. A MessagePosted that repeats one (a client retry after the
	// log's deduplication window) is ignored, so no message is ever decided,
	// delivered or counted twice. Keys, not strings: it grows with the log.
	seen map[idkey.Key]idkey.Key
	// rules are each application's rules in force at the position folded
	// (the configured ones until the log records some); senders what the
	// rules remember of each sender, by app/sender.
	rules   map[string]*Rules
	senders map[string]*Sender
	// files are the uploads by app/id, for attachments (files.go).
	files map[string]*Upload
	// folded is the last position folded into the state; out holds decisions
	// not yet in the log. A retried Handle skips what it folded already and
	// appends out again, so state advances exactly once per event.
	folded uint64
	out    []*events.Envelope
	// restoring is set while folding events already acted on.
	restoring bool
}

// New returns the moderation consumer.
func New(apps config.Apps, appends *jet.Appender, log *slog.Logger) *Service {
	out := &jet.Outbox{Appender: appends, Stored: func(evs []*events.Envelope) {
		for _, de := range evs {
			jet.StageDone(jet.StageModeration, de.At) // a decision carries its posting's at
		}
	}}
	return &Service{apps: apps, outbox: out, log: log, roster: roster.New(), seen: map[idkey.Key]idkey.Key{},
		rules: map[string]*Rules{}, senders: map[string]*Sender{}, files: map[string]*Upload{}}
}

// decides declares what moderation does with each event type. Membership
// comes from the roster, which folds every event before these handlers run.
var decides = func() *events.Router[*Service] {
	r := events.NewRouter[*Service]("moderation")
	events.On(r, (*Service).posted)
	events.On(r, (*Service).rulesChanged)
	events.On(r, (*Service).fileUploaded)
	events.On(r, (*Service).fileExpired)
	r.Ignore(events.TypeConversationCreated, events.TypeMemberJoined, events.TypeMemberLeft, // folded by the roster
		events.TypeConversationUpdated, events.TypeParticipantUpdated,
		events.TypeMessageModerated, events.TypeServiceAccountCreated, events.TypeWebhooksChanged,
		events.TypeAnonymousUserCreated, events.TypeAnonymousConverted, // the roster folds the conversion
		events.TypeConversationTransferred,
		// Decided on the command side, at the conversation's position
		// (services/decide): the message was moderated when posted.
		events.TypeMessageEdited, events.TypeMessageDeleted, events.TypeDeliveryReceipt, events.TypeReadReceipt,
		events.TypeSettingsChanged, events.TypeNotificationsRead,
		// An announcement's audience is folded by the roster; the directory
		// serves the command side only.
		events.TypeAnnouncementTargeted, events.TypeDirectoryUsersUpdated)
	r.Ignore(events.GroupTypes...) // groups hold no messages
	return r
}()

// Subjects are the events moderation reads: those the roster folds and
// those it decides or remembers. Its durable consumer filters on them, so
// the server keeps the rest (decisions, receipts, edits: most of the log)
// from it.
func Subjects() []string {
	types := roster.Types()
	for _, t := range decides.Handled() {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return events.SubjectsOf(types...)
}

// Restore folds events moderation has already acted on: the state
// advances, nothing is decided again.
func (s *Service) Restore(evs []*events.Envelope) {
	s.restoring = true
	defer func() { s.restoring = false }()
	for _, e := range evs {
		_ = s.fold(e) // an event that fails was parked when it was new
		s.folded = e.Seq
	}
}

// fold updates the state with e and, unless restoring, queues the decisions
// it calls for.
func (s *Service) fold(e *events.Envelope) error {
	if err := s.roster.Apply(e); err != nil {
		return err
	}
	return decides.Handle(s, e)
}

// repliedIn is conv if the message replyTo was posted in it (in is conv's
// key), else nil: a reply may only name a message of its own conversation.
func (s *Service) repliedIn(app, replyTo string, conv *roster.Conversation, in idkey.Key) *roster.Conversation {
	if k, ok := s.seen[idkey.Of(app, replyTo)]; ok && conv != nil && k == in {
		return conv
	}
	return nil
}

// posted decides a first posting at its position; a repeat is ignored.
func (s *Service) posted(e *events.Envelope, m *events.MessagePosted) error {
	key := idkey.Of(e.App, m.MessageID)
	if _, dup := s.seen[key]; dup {
		return nil
	}
	conv := s.roster.Get(e.App, m.ConversationID)
	var in idkey.Key // none: the conversation did not exist
	if conv != nil {
		in = idkey.Of(e.App, m.ConversationID)
	}
	s.seen[key] = in
	if m.Imported || m.Announcement {
		return nil
	}
	rules, sender := s.rulesOf(e.App), s.senderOf(e.App, m.SenderID)
	var d Decision
	if !s.restoring {
		d = Decide(rules, sender, conv, m, e.At)
		if m.ReplyTo != "" {
			d = DecideReply(d, conv, s.repliedIn(e.App, m.ReplyTo, conv, in), m)
		}
	}
	sender.Record(m.Content, e.At, rules)
	if s.restoring {
		return nil
	}
	if m.AttachmentID != "" {
		d = DecideAttachment(d, s.files[e.App+"/"+m.AttachmentID], m)
	}
	mod := &events.MessageModerated{
		MessageID: m.MessageID, ConversationID: m.ConversationID, SenderID: m.SenderID,
		ClientMsgID: m.ClientMsgID, Status: d.Status, Reason: d.Reason, PostedSeq: e.Seq,
	}
	// The decision's id derives from the message: deciding again after a
	// crash appends nothing new.
	de, err := events.New("mod-"+m.MessageID, e.App, e.At, events.Actor{ID: "moderation", Type: events.ActorSystem}, mod)
	if err != nil {
		s.log.Error("moderation decision not encodable", "seq", e.Seq, "err", err)
		return nil
	}
	s.out = append(s.out, de)
	return nil
}

// rulesChanged puts an application's new rules in force from here on.
func (s *Service) rulesChanged(e *events.Envelope, p *events.ModerationRulesChanged) error {
	s.rules[e.App] = Compile(p.Rules)
	return nil
}

// rulesOf is app's rules in force: the configured ones until the log
// records some (chatd records them at start, see SeedRules).
func (s *Service) rulesOf(app string) *Rules {
	r := s.rules[app]
	if r == nil {
		doc := events.ModerationRules{BadWordsAction: events.ActionReject, FloodWindowSeconds: events.DefaultFloodSpan}
		if a := s.apps[app]; a != nil {
			doc = a.Moderation.Rules()
		}
		r = Compile(doc)
		s.rules[app] = r
	}
	return r
}

func (s *Service) senderOf(app, user string) *Sender {
	k := app + "/" + user
	sd := s.senders[k]
	if sd == nil {
		sd = &Sender{}
		s.senders[k] = sd
	}
	return sd
}

// Handle decides each new message at its position and sends the decisions
// to the log (Flush confirms them).
// An event whose handling fails (a panic) is poison: the decisions before it
// are appended, then the loop parks it and goes on after it.
func (s *Service) Handle(_ context.Context, evs []*events.Envelope) error {
	for _, e := range evs {
		if e.Seq <= s.folded {
			continue
		}
		s.folded = e.Seq
		if err := s.fold(e); err != nil {
			if err := s.appendDecisions(); err != nil {
				return err
			}
			return &jet.PoisonError{Event: e, Err: err}
		}
	}
	return s.appendDecisions()
}

// appendDecisions sends the decisions not yet sent to the log.
func (s *Service) appendDecisions() error {
	if len(s.out) == 0 {
		return nil
	}
	if err := s.outbox.Send(s.out); err != nil {
		return err
	}
	s.out = nil // the outbox keeps the slice
	return nil
}

// Flush returns once every decision sent so far is in the log.
func (s *Service) Flush(ctx context.Context) error { return s.outbox.Flush(ctx) }
