package moderation

import (
	"context"
	"log/slog"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/roster"
)

// Service is the moderation consumer. Its state (membership and the set of
// messages already decided) is folded from the log; see jet.Stateful.
type Service struct {
	apps    config.Apps
	appends *jet.Appender
	log     *slog.Logger
	roster  *roster.Roster
	// seen holds every message id posted so far. A MessagePosted that repeats
	// one (a client retry after the log's deduplication window) is ignored,
	// so no message is ever decided, delivered or counted twice.
	seen map[string]struct{}
	// folded is the last position folded into the state; out holds decisions
	// not yet in the log. A retried Handle skips what it folded already and
	// appends out again, so state advances exactly once per event.
	folded uint64
	out    []*events.Envelope
}

// New returns the moderation consumer.
func New(apps config.Apps, appends *jet.Appender, log *slog.Logger) *Service {
	return &Service{apps: apps, appends: appends, log: log, roster: roster.New(), seen: map[string]struct{}{}}
}

// Restore folds events moderation has already acted on.
func (s *Service) Restore(evs []*events.Envelope) {
	for _, e := range evs {
		s.fold(e)
		s.folded = e.Seq
	}
}

// fold updates the state and reports whether e is a first posting.
func (s *Service) fold(e *events.Envelope) (*events.MessagePosted, bool) {
	s.roster.Apply(e)
	if e.Type != events.TypeMessagePosted {
		return nil, false
	}
	p, err := e.Payload()
	if err != nil {
		return nil, false
	}
	m := p.(*events.MessagePosted)
	key := e.App + "/" + m.MessageID
	if _, dup := s.seen[key]; dup {
		return nil, false
	}
	s.seen[key] = struct{}{}
	return m, true
}

// Handle decides each new message at its position and appends the decisions.
func (s *Service) Handle(ctx context.Context, evs []*events.Envelope) error {
	for _, e := range evs {
		if e.Seq <= s.folded {
			continue
		}
		s.folded = e.Seq
		m, first := s.fold(e)
		if !first || m.Imported {
			continue
		}
		d := Decide(s.apps[e.App], s.roster.Get(e.App, m.ConversationID), m)
		mod := &events.MessageModerated{
			MessageID: m.MessageID, ConversationID: m.ConversationID, SenderID: m.SenderID,
			ClientMsgID: m.ClientMsgID, Status: d.Status, Reason: d.Reason, PostedSeq: e.Seq,
		}
		// The decision's id derives from the message: deciding again after a
		// crash appends nothing new.
		de, err := events.New("mod-"+m.MessageID, e.App, e.At, events.Actor{ID: "moderation", Type: events.ActorSystem}, mod)
		if err != nil {
			s.log.Error("moderation decision not encodable", "seq", e.Seq, "err", err)
			continue
		}
		s.out = append(s.out, de)
	}
	if len(s.out) == 0 {
		return nil
	}
	if _, err := s.appends.AppendAll(ctx, s.out); err != nil {
		return err
	}
	s.out = s.out[:0]
	return nil
}
