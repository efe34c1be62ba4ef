// Package fanout delivers the log to users: every event that concerns a user
// goes to that user's own topics, decided by membership at the event's
// position in the log (DESIGN invariant 4).
package fanout

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/idkey"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
)

// Service is the fan-out consumer (a jet.Stateful).
type Service struct {
	apps    config.Apps
	deliver bridge.Deliverer
	roster  *roster.Roster
	// rosterMu guards the roster against View's readers (the live relay).
	// Only the consumer's goroutine changes the roster, under the write
	// lock; its own reads need no lock.
	rosterMu sync.RWMutex
	// pending holds the postings awaiting their decision (or, held, their
	// review); decided every message decided since, by key: it grows with
	// the log, so it holds no strings. Repeats of either event (a retry or
	// a backfill run after the log's deduplication window) deliver nothing.
	pending map[idkey.Key]*posting
	decided map[idkey.Key]struct{}
	// clients are the clients converted visitors became, by app/visitor.
	clients map[string]conversion
	folded  uint64
	// restoring is set while folding events already delivered: route then
	// updates the state and sends nothing.
	restoring bool
	// settings are the users' settings in force, for their notifications
	// (notifications.go); absent: the defaults.
	settings map[userKey]events.UserSettings
}

type posting struct {
	m   *events.MessagePosted
	at  time.Time
	seq uint64
}

// New returns the fan-out consumer.
func New(apps config.Apps, d bridge.Deliverer) *Service {
	return &Service{apps: apps, deliver: d, roster: roster.New(), pending: map[idkey.Key]*posting{}, decided: map[idkey.Key]struct{}{}, settings: map[userKey]events.UserSettings{},
		clients: map[string]conversion{}}
}

// Restore folds events already delivered. One whose routing fails was
// parked when it was new, and is skipped again.
func (s *Service) Restore(evs []*events.Envelope) {
	s.restoring = true
	defer func() { s.restoring = false }()
	for _, e := range evs {
		_ = s.route(e)
		s.folded = e.Seq
	}
}

// Handle routes new events, sending each one's deliveries at once. It does
// not wait for the broker: Flush does, before the events are acknowledged.
// An event whose routing fails (a panic) is poison: the loop parks it.
func (s *Service) Handle(_ context.Context, evs []*events.Envelope) error {
	for _, e := range evs {
		if e.Seq <= s.folded {
			continue
		}
		s.folded = e.Seq
		if err := s.route(e); err != nil {
			return &jet.PoisonError{Event: e, Err: err}
		}
	}
	return nil
}

// Flush returns once the broker has taken every delivery sent so far. One it
// did not take stays with the deliverer, which sends it again on the retry.
func (s *Service) Flush(ctx context.Context) error { return s.deliver.Flush(ctx) }

// routes declares what fan-out does with each event type.
var routes = func() *events.Router[*Service] {
	r := events.NewRouter[*Service]("fanout")
	events.On(r, (*Service).conversationCreated)
	events.On(r, (*Service).memberJoined)
	events.On(r, (*Service).memberLeft)
	events.On(r, (*Service).messagePosted)
	events.On(r, (*Service).messageModerated)
	events.On(r, (*Service).messageEdited)
	events.On(r, (*Service).messageDeleted)
	events.On(r, (*Service).deliveryReceipt)
	events.On(r, (*Service).readReceipt)
	events.On(r, (*Service).conversationUpdated)
	events.On(r, (*Service).participantUpdated)
	events.On(r, (*Service).groupCreated)
	events.On(r, (*Service).groupUpdated)
	events.On(r, (*Service).groupMemberJoined)
	events.On(r, (*Service).groupMemberLeft)
	events.On(r, (*Service).settingsChanged)
	events.On(r, (*Service).groupJoinRequested)
	events.On(r, (*Service).groupJoinRefused)
	events.On(r, (*Service).notificationsRead)
	events.On(r, (*Service).announcementTargeted)
	events.On(r, (*Service).converted)
	events.On(r, (*Service).transferred)
	r.Ignore(events.TypeServiceAccountCreated, events.TypeWebhooksChanged, // internal: no client sees them
		events.TypeModerationRulesChanged, events.TypeDirectoryUsersUpdated, events.TypeAnonymousUserCreated,
		events.TypeFileUploaded, events.TypeFileExpired)
	return r
}()

// route folds one event into the state and queues its deliveries. An
// application not configured here gets no deliveries, but its membership
// is still followed.
func (s *Service) route(e *events.Envelope) error {
	if s.apps[e.App] == nil {
		return s.apply(e)
	}
	return routes.Handle(s, e)
}

// apply folds e into the roster.
func (s *Service) apply(e *events.Envelope) error {
	s.rosterMu.Lock()
	defer s.rosterMu.Unlock()
	return s.roster.Apply(e)
}

// View runs fn with the membership at fan-out's position in the log, for
// routing what is not in the log (typing, presence). fn must not keep the
// roster or its conversations.
func (s *Service) View(fn func(*roster.Roster)) {
	s.rosterMu.RLock()
	defer s.rosterMu.RUnlock()
	fn(s.roster)
}

// send delivers e, as typ with data, to users' topics of kind.
func (s *Service) send(e *events.Envelope, users []string, kind, typ string, data any) {
	if s.restoring || len(users) == 0 {
		return
	}
	prefix := s.apps[e.App].TopicPrefix
	payload := bridge.Encode(bridge.Outbound{Type: typ, Seq: e.Seq, At: e.At, Data: data})
	s.sendAll(users, func(u string) bridge.Delivery {
		return bridge.Delivery{Topic: bridge.UserTopic(prefix, u, kind), Payload: payload}
	})
}

func (s *Service) conversationCreated(e *events.Envelope, p *events.ConversationCreated) error {
	if s.roster.Get(e.App, p.ConversationID) != nil {
		return nil // created before: a repeat
	}
	if err := s.apply(e); err != nil {
		return err
	}
	if c := s.roster.Get(e.App, p.ConversationID); c != nil {
		s.send(e, c.MemberIDs(), bridge.KindConversations, "conversation.created", p)
		s.notifyCreated(e, p)
	}
	return nil
}

func (s *Service) memberJoined(e *events.Envelope, p *events.MemberJoined) error {
	if c := s.roster.Get(e.App, p.ConversationID); c != nil && c.Members[p.UserID] == p.Role {
		return nil // already a member with that role: a repeat
	}
	newcomer := newcomer(s.roster.Get(e.App, p.ConversationID), p)
	if err := s.apply(e); err != nil {
		return err
	}
	if c := s.roster.Get(e.App, p.ConversationID); c != nil {
		s.send(e, c.ToldOfMember(p.UserID, s.apps[e.App].Limits.MemberEventsUpTo).IDs(c), bridge.KindConversations, "member.joined",
			wire.MemberChange{ConversationID: p.ConversationID, UserID: p.UserID, Role: string(p.Role), By: p.AddedBy})
		if newcomer {
			s.notifyJoined(e, p)
		}
	}
	return nil
}

func (s *Service) memberLeft(e *events.Envelope, p *events.MemberLeft) error {
	// Those who were members until now, the leaver included, learn it.
	if c := s.roster.Get(e.App, p.ConversationID); c != nil && c.IsMember(p.UserID) {
		s.send(e, c.ToldOfMember(p.UserID, s.apps[e.App].Limits.MemberEventsUpTo).IDs(c), bridge.KindConversations, "member.left",
			wire.MemberChange{ConversationID: p.ConversationID, UserID: p.UserID, By: p.RemovedBy})
	}
	return s.apply(e)
}

func (s *Service) messagePosted(e *events.Envelope, p *events.MessagePosted) error {
	key := idkey.Of(e.App, p.MessageID)
	if _, done := s.decided[key]; done {
		return nil
	}
	if _, seen := s.pending[key]; !seen {
		s.pending[key] = &posting{m: p, at: e.At, seq: e.Seq}
	}
	return nil
}

func (s *Service) messageModerated(e *events.Envelope, p *events.MessageModerated) error {
	key := idkey.Of(e.App, p.MessageID)
	post := s.pending[key]
	if post == nil {
		return nil // decided before (a repeat), or never posted
	}
	if p.Status != events.StatusPending {
		delete(s.pending, key) // decided: a repeat of a decision changes nothing
		s.decided[key] = struct{}{}
	}
	if p.Status == events.StatusApproved {
		if c := s.roster.Get(e.App, p.ConversationID); c != nil {
			s.send(e, c.MemberIDs(), bridge.KindMessages, "message.new",
				s.asClient(e.App, wire.MessageFromEvent(post.m, post.at, post.seq, p.Status)))
			if !s.restoring {
				jet.StageDone(jet.StageFanout, post.at)
			}
		}
	}
	sender, _ := s.clientOf(e.App, p.SenderID, post.seq)
	s.send(e, []string{sender}, bridge.KindModeration, "moderation.result", wire.ModerationResult{
		ClientMsgID: p.ClientMsgID, MessageID: p.MessageID, ConversationID: p.ConversationID,
		Status: string(p.Status), Reason: p.Reason,
	})
	return nil
}

// messageEdited and messageDeleted go to the members at the change's
// position: they saw the message (only approved messages change) or may
// read it in the history now.
func (s *Service) messageEdited(e *events.Envelope, p *events.MessageEdited) error {
	if c := s.roster.Get(e.App, p.ConversationID); c != nil {
		s.send(e, c.MemberIDs(), bridge.KindMessages, "message.edited", wire.MessageEdited(p, e.At))
	}
	return nil
}

func (s *Service) messageDeleted(e *events.Envelope, p *events.MessageDeleted) error {
	if c := s.roster.Get(e.App, p.ConversationID); c != nil {
		s.send(e, c.MemberIDs(), bridge.KindMessages, "message.deleted", wire.MessageDeleted(p, e.At))
	}
	return nil
}

// deliveryReceipt and readReceipt go to the members at the receipt's
// position (see roster.Conversation.ToldOfReceipt).
func (s *Service) deliveryReceipt(e *events.Envelope, p *events.DeliveryReceipt) error {
	s.sendReceipt(e, &p.Receipt, "delivery.receipt")
	return nil
}

func (s *Service) readReceipt(e *events.Envelope, p *events.ReadReceipt) error {
	s.sendReceipt(e, &p.Receipt, "read.receipt")
	return nil
}

func (s *Service) sendReceipt(e *events.Envelope, r *events.Receipt, typ string) {
	if c := s.roster.Get(e.App, r.ConversationID); c != nil {
		s.send(e, c.ToldOfReceipt(r, s.apps[e.App].Limits.ReceiptsToAllUpTo).IDs(c), bridge.KindReceipts, typ,
			wire.ReceiptFromEvent(r, e.At))
	}
}

// parallelFrom is the audience size from which one event's deliveries are
// spread over every CPU: an announcement reaches its last recipient sooner.
const parallelFrom = 256

// sendAll sends one event's deliveries. Each recipient still gets this
// event before the next one: sendAll returns only when all are sent.
func (s *Service) sendAll(users []string, delivery func(string) bridge.Delivery) {
	workers := min(runtime.GOMAXPROCS(0), len(users)/parallelFrom+1)
	if workers <= 1 {
		for _, u := range users {
			s.deliver.Send(delivery(u))
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(users) + workers - 1) / workers
	for i := 0; i < len(users); i += chunk {
		part := users[i:min(i+chunk, len(users))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, u := range part {
				s.deliver.Send(delivery(u))
			}
		}()
	}
	wg.Wait()
}
