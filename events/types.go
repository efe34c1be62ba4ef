package events

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Type is an event's name as stored in the envelope and the Chat-Type header.
// Every type is registered once, in the catalogue (catalogue.go); its payload
// lives in the file of its family (conversations.go, messages.go, …).
type Type string

// Payload is the typed content of one event.
type Payload interface {
	EventType() Type
	// Validate checks what the payload itself can know; permissions are the
	// business of the consumers that decide them.
	Validate() error
	// scopeID is the id the subject names within the type's scope: the
	// conversation or the user; empty for application-wide events.
	scopeID() string
}

// checkIDs validates name/value pairs of required ids.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !ValidID(pairs[i+1]) {
			return fmt.Errorf("%s: invalid id %q", pairs[i], pairs[i+1])
		}
	}
	return nil
}

// checkText refuses free text the read model could not store: PostgreSQL
// text holds valid UTF-8 without NUL (U+0000), and one event it refuses
// would hold up the projection of every event after it. Ids need no such
// check: ValidID allows ASCII letters, digits, '_' and '-' only.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s: contains the NUL character (U+0000)", field)
	}
	return nil
}
