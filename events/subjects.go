package events

// Stream and subject names (PROTOCOL §4). Every subject is built here.
const (
	// Stream is the durable event log.
	Stream = "CHAT_EVENTS"
	// DeadLetterStream holds events a consumer gave up on, with the reason.
	DeadLetterStream = "CHAT_DEAD_LETTERS"

	SubjectRoot       = "chat.evt"
	AllEvents         = "chat.evt.>"
	DeadLetterSubject = "chat.dlq.>"

	// HeaderType carries the event type so routers need not parse the body.
	HeaderType = "Chat-Type"
	// HeaderReason carries why an event was dead-lettered.
	HeaderReason = "Chat-Dead-Reason"
)

type scopeKind int

const (
	scopeConversation scopeKind = iota
	scopeUser
	scopeApp
)

type scope struct {
	kind scopeKind
	id   string
}

func convScope(id string) scope { return scope{scopeConversation, id} }

// SubjectOf is the subject an event is stored under:
// chat.evt.{app}.conv.{id}.{event}, chat.evt.{app}.user.{id}.{event} or
// chat.evt.{app}.app.{event}.
func SubjectOf(app string, p Payload) string {
	name := p.EventType().Dotted()
	s := p.scope()
	switch s.kind {
	case scopeUser:
		return SubjectRoot + "." + app + ".user." + s.id + "." + name
	case scopeApp:
		return SubjectRoot + "." + app + ".app." + name
	default:
		return SubjectRoot + "." + app + ".conv." + s.id + "." + name
	}
}

// DeadLetterSubjectFor is where a parked event of a consumer goes.
func DeadLetterSubjectFor(consumer string) string { return "chat.dlq." + consumer }

// Dotted is the subject form of a type: MessagePosted → message.posted.
func (t Type) Dotted() string {
	b := make([]byte, 0, len(t)+4)
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b = append(b, '.')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}
