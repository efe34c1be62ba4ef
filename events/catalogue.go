package events

import (
	"fmt"

	fastjson "github.com/goccy/go-json"
)

// known is the catalogue: every event type this build knows, each registered
// once, in the order Types lists them. Adding an event type is one line here
// and its payload in the file of its family; consumers then fail their tests
// until they handle or ignore it (see Router).
var known = newCatalogue(
	Spec{Type: TypeConversationCreated, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(ConversationCreated) }},
	Spec{Type: TypeMemberJoined, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(MemberJoined) }},
	Spec{Type: TypeMemberLeft, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(MemberLeft) }},
	Spec{Type: TypeMessagePosted, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(MessagePosted) }},
	Spec{Type: TypeMessageModerated, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(MessageModerated) }},
	Spec{Type: TypeMessageEdited, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(MessageEdited) }},
	Spec{Type: TypeMessageDeleted, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(MessageDeleted) }},
	Spec{Type: TypeDeliveryReceipt, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(DeliveryReceipt) }},
	Spec{Type: TypeReadReceipt, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(ReadReceipt) }},
	Spec{Type: TypeConversationUpdated, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(ConversationUpdated) }},
	Spec{Type: TypeParticipantUpdated, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(ParticipantUpdated) }},
	Spec{Type: TypeServiceAccountCreated, Version: 1, Scope: ScopeApp, Internal: true,
		New: func() Payload { return new(ServiceAccountCreated) }},
	Spec{Type: TypeWebhooksChanged, Version: 1, Scope: ScopeApp, Internal: true,
		New: func() Payload { return new(WebhooksChanged) }},
	Spec{Type: TypeModerationRulesChanged, Version: 1, Scope: ScopeApp, Internal: true,
		New: func() Payload { return new(ModerationRulesChanged) }},
	Spec{Type: TypeGroupCreated, Version: 1, Scope: ScopeGroup, New: func() Payload { return new(GroupCreated) }},
	Spec{Type: TypeGroupUpdated, Version: 1, Scope: ScopeGroup, New: func() Payload { return new(GroupUpdated) }},
	Spec{Type: TypeGroupJoinRequested, Version: 1, Scope: ScopeGroup, New: func() Payload { return new(GroupJoinRequested) }},
	Spec{Type: TypeGroupJoinRefused, Version: 1, Scope: ScopeGroup, New: func() Payload { return new(GroupJoinRefused) }},
	Spec{Type: TypeGroupMemberJoined, Version: 1, Scope: ScopeGroup, New: func() Payload { return new(GroupMemberJoined) }},
	Spec{Type: TypeGroupMemberLeft, Version: 1, Scope: ScopeGroup, New: func() Payload { return new(GroupMemberLeft) }},
	Spec{Type: TypeSettingsChanged, Version: 1, Scope: ScopeUser, New: func() Payload { return new(SettingsChanged) }},
	Spec{Type: TypeNotificationsRead, Version: 1, Scope: ScopeUser, New: func() Payload { return new(NotificationsRead) }},
	Spec{Type: TypeDirectoryUsersUpdated, Version: 1, Scope: ScopeApp, Internal: true,
		New: func() Payload { return new(DirectoryUsersUpdated) }},
	Spec{Type: TypeAnnouncementTargeted, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(AnnouncementTargeted) }},
	// Internal for now: the visitor's profile is kept in the log only.
	Spec{Type: TypeAnonymousUserCreated, Version: 1, Scope: ScopeConversation, Internal: true,
		New: func() Payload { return new(AnonymousUserCreated) }},
	Spec{Type: TypeAnonymousConverted, Version: 1, Scope: ScopeConversation, New: func() Payload { return new(AnonymousConverted) }},
	Spec{Type: TypeConversationTransferred, Version: 1, Scope: ScopeConversation,
		New: func() Payload { return new(ConversationTransferred) }},
	// Internal: decisions about stored bytes; messages carry the file's id.
	Spec{Type: TypeFileUploaded, Version: 1, Scope: ScopeConversation, Internal: true,
		New: func() Payload { return new(FileUploaded) }},
	Spec{Type: TypeFileExpired, Version: 1, Scope: ScopeConversation, Internal: true,
		New: func() Payload { return new(FileExpired) }},
)

// Types lists every event type this build knows, in catalogue order.
var Types = known.types

// Scope is the part of the subject space an event type lives in (PROTOCOL §4).
type Scope int

const (
	// ScopeConversation: chat.evt.{app}.conv.{conversationId}.{event}.
	ScopeConversation Scope = iota + 1
	// ScopeUser: chat.evt.{app}.user.{userId}.{event}.
	ScopeUser
	// ScopeApp: chat.evt.{app}.app.{event}, for application-wide events.
	ScopeApp
	// ScopeGroup: chat.evt.{app}.group.{groupId}.{event}, a team's events
	// (an extension of PROTOCOL §4, see README).
	ScopeGroup
)

// Upgrade turns the data of an event stored at one version into the data of
// the next version. It is pure: the stored event never changes, readers
// upgrade it each time they decode it.
type Upgrade func(data []byte) ([]byte, error)

// Spec is one event type as the catalogue registers it.
type Spec struct {
	Type Type
	// Version is the version New writes. Older versions stay readable
	// forever through Upgrades.
	Version int
	Scope   Scope
	// Internal marks events no client is ever delivered (a service's
	// account, the directory): fan-out ignores them.
	Internal bool
	// New returns an empty payload of the type, to decode data into.
	New func() Payload
	// Upgrades[v] turns data stored at version v into version v+1, for
	// every v from 1 to Version-1.
	Upgrades map[int]Upgrade

	dotted string // the subject token, e.g. message.posted
}

// SpecOf returns the catalogue's entry for t.
func SpecOf(t Type) (Spec, bool) {
	s := known.specs[t]
	if s == nil {
		return Spec{}, false
	}
	return *s, true
}

// catalogue indexes specs by type.
type catalogue struct {
	specs map[Type]*Spec
	types []Type
}

// newCatalogue checks and indexes specs. An inconsistent entry is a
// programming error found at start-up, so it panics.
func newCatalogue(specs ...Spec) *catalogue {
	c := &catalogue{specs: make(map[Type]*Spec, len(specs))}
	for i := range specs {
		s := specs[i]
		switch {
		case s.Type == "" || s.New == nil:
			panic(fmt.Sprintf("events: catalogue entry %d has no type or no constructor", i))
		case c.specs[s.Type] != nil:
			panic(fmt.Sprintf("events: %s registered twice", s.Type))
		case s.New().EventType() != s.Type:
			panic(fmt.Sprintf("events: %s constructs a %s", s.Type, s.New().EventType()))
		case s.Version < 1:
			panic(fmt.Sprintf("events: %s has version %d", s.Type, s.Version))
		case s.Scope < ScopeConversation || s.Scope > ScopeGroup:
			panic(fmt.Sprintf("events: %s has no scope", s.Type))
		}
		for v := 1; v < s.Version; v++ {
			if s.Upgrades[v] == nil {
				panic(fmt.Sprintf("events: %s has no upgrade from version %d to %d", s.Type, v, v+1))
			}
		}
		s.dotted = dotted(s.Type)
		c.specs[s.Type] = &s
		c.types = append(c.types, s.Type)
	}
	return c
}

// checkVersion refuses a version no reader of e's type can read: below 1,
// or newer than this build writes. Types this build does not know are left
// to payload, which names them.
func (c *catalogue) checkVersion(e *Envelope) error {
	if e.V < 1 {
		return fmt.Errorf("decode envelope %s: unsupported version %d", e.ID, e.V)
	}
	if s := c.specs[e.Type]; s != nil && e.V > s.Version {
		return fmt.Errorf("decode envelope %s: unsupported version %d of %s (this build reads up to %d)", e.ID, e.V, e.Type, s.Version)
	}
	return nil
}

// payload decodes and validates an envelope's data as its type's current
// version, upgrading data stored at an older one.
func (c *catalogue) payload(e *Envelope) (Payload, error) {
	s := c.specs[e.Type]
	if s == nil {
		return nil, fmt.Errorf("%w %q (event %s)", ErrUnknownType, e.Type, e.ID)
	}
	if err := c.checkVersion(e); err != nil {
		return nil, err
	}
	data := []byte(e.Data)
	for v := e.V; v < s.Version; v++ {
		up, err := s.Upgrades[v](data)
		if err != nil {
			return nil, fmt.Errorf("upgrade %s %s from version %d: %w", e.Type, e.ID, v, err)
		}
		data = up
	}
	p := s.New()
	if err := fastjson.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", e.Type, e.ID, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("invalid %s %s: %w", e.Type, e.ID, err)
	}
	return p, nil
}

// subject is the subject p is stored under in app.
func (c *catalogue) subject(app string, p Payload) string {
	scope, id, name := c.place(p)
	return join(app, scope, id, name)
}

// join builds a subject from its tokens: application-wide events (scope
// "app") have no id. Filters pass "*" for the tokens they leave open.
func join(app, scope, id, name string) string {
	if scope == "app" {
		return SubjectRoot + "." + app + "." + scope + "." + name
	}
	return SubjectRoot + "." + app + "." + scope + "." + id + "." + name
}

// storedUnder reports whether subject is the one p is stored under in app,
// without building it: every consumer checks every event it reads.
func (c *catalogue) storedUnder(subject, app string, p Payload) bool {
	scope, id, name := c.place(p)
	rest, ok := cutToken(subject, SubjectRoot)
	if ok {
		rest, ok = cutToken(rest, app)
	}
	if ok {
		rest, ok = cutToken(rest, scope)
	}
	if ok && scope != "app" {
		rest, ok = cutToken(rest, id)
	}
	return ok && rest == name
}

// place is where p's subject puts it: the scope's token, the id within the
// scope (none for application-wide events, scope "app") and the type's
// token. A payload outside the catalogue (none in this build) is placed as
// a conversation event.
func (c *catalogue) place(p Payload) (scope, id, name string) {
	t := p.EventType()
	kind := ScopeConversation
	if s := c.specs[t]; s != nil {
		kind, name = s.Scope, s.dotted
	} else {
		name = dotted(t)
	}
	if kind == ScopeApp {
		return kind.token(), "", name
	}
	return kind.token(), p.scopeID(), name
}

// token is the scope's token in subjects.
func (s Scope) token() string {
	switch s {
	case ScopeApp:
		return "app"
	case ScopeUser:
		return "user"
	case ScopeGroup:
		return "group"
	default:
		return "conv"
	}
}

// cutToken removes prefix and the dot after it from s.
func cutToken(s, prefix string) (string, bool) {
	if len(s) <= len(prefix) || s[len(prefix)] != '.' || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix)+1:], true
}

// newPayload returns an empty payload for a type, or nil when unknown.
func newPayload(t Type) Payload {
	if s := known.specs[t]; s != nil {
		return s.New()
	}
	return nil
}
