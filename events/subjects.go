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

// SubjectOf is the subject an event is stored under:
// chat.evt.{app}.conv.{id}.{event}, chat.evt.{app}.user.{id}.{event} or
// chat.evt.{app}.app.{event}, as the catalogue places its type.
func SubjectOf(app string, p Payload) string { return known.subject(app, p) }

// DeadLetterSubjectFor is where a parked event of a consumer goes.
func DeadLetterSubjectFor(consumer string) string { return "chat.dlq." + consumer }

// Dotted is the subject form of a type: MessagePosted → message.posted. The
// catalogue's types have theirs computed once.
func (t Type) Dotted() string {
	if s := known.specs[t]; s != nil {
		return s.dotted
	}
	return dotted(t)
}

func dotted(t Type) string {
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

// SubjectsOf are subject filters matching the events of these types in
// every application, one per type, none overlapping: a consumer that acts on
// a few types reads those, and the server does not deliver it the others.
func SubjectsOf(types ...Type) []string {
	out := make([]string, 0, len(types))
	for _, t := range types {
		s := known.specs[t]
		if s == nil {
			panic("events: no subject for " + string(t) + ", which is not in the catalogue")
		}
		out = append(out, join("*", s.Scope.token(), "*", s.dotted))
	}
	return out
}

// ConversationSubjects matches every event of one conversation, whatever its
// type: chat.evt.{app}.conv.{id}.>. Deciding a command at a conversation's
// position means at the last sequence stored under it.
func ConversationSubjects(app, conversationID string) string {
	return SubjectRoot + "." + app + ".conv." + conversationID + ".>"
}

// GroupSubjects matches every event of one group (team):
// chat.evt.{app}.group.{id}.>. Deciding a command at a group's position
// means at the last sequence stored under it.
func GroupSubjects(app, groupID string) string {
	return SubjectRoot + "." + app + ".group." + groupID + ".>"
}
