package events

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Moderation rules: an application's automatic moderation, replaced as a
// whole. Moderation decides each posting with the rules in force at its
// position, so a replay judges old messages by old rules (DESIGN invariant 6).
const TypeModerationRulesChanged Type = "ModerationRulesChanged"

// Automatic moderation reasons (PROTOCOL §2), besides bad_words.
const (
	ReasonFlood       = "flood"
	ReasonTooManyURLs = "too_many_urls"
	ReasonRepetition  = "repetition"
	ReasonTooLong     = "too_long"
	ReasonContentType = "content_type"
	ReasonManual      = "manual"
)

// What bad words do to a message.
const (
	ActionReject = "reject"
	ActionHold   = "hold"
)

// Bounds of a rules document: each keeps a decision's work small.
const (
	MaxBadWords      = 2000
	MaxBadWordBytes  = 64
	MaxFloodLimit    = 1000
	MaxFloodWindow   = 3600
	MaxURLLimit      = 100
	MaxRuleLength    = 1 << 20
	DefaultFloodSpan = 10
)

// ModerationRules is the document of PROTOCOL §3 /moderation/rules. A zero
// FloodLimit, URLLimit, MaxLength or RepetitionThreshold turns that rule
// off; empty ContentTypes allows every type.
type ModerationRules struct {
	Enabled             bool     `json:"enabled"`
	BadWords            []string `json:"badWords"`
	BadWordsAction      string   `json:"badWordsAction"`
	FloodLimit          int      `json:"floodLimit"`
	FloodWindowSeconds  int      `json:"floodWindowSeconds"`
	URLLimit            int      `json:"urlLimit"`
	RepetitionThreshold float64  `json:"repetitionThreshold"`
	MaxLength           int      `json:"maxLength"`
	ContentTypes        []string `json:"contentTypes"`
	HoldAll             bool     `json:"holdAll"`
}

// Validate checks ranges and sizes; it does not normalise (see
// moderation.Compile).
func (r *ModerationRules) Validate() error {
	if len(r.BadWords) > MaxBadWords {
		return fmt.Errorf("badWords: at most %d words", MaxBadWords)
	}
	for i, w := range r.BadWords {
		if w == "" || len(w) > MaxBadWordBytes || !utf8.ValidString(w) || slices.Contains([]byte(w), 0) {
			return fmt.Errorf("badWords[%d]: 1 to %d bytes of text", i, MaxBadWordBytes)
		}
	}
	switch r.BadWordsAction {
	case ActionReject, ActionHold:
	default:
		return fmt.Errorf("badWordsAction: %q is not reject or hold", r.BadWordsAction)
	}
	switch {
	case r.FloodLimit < 0 || r.FloodLimit > MaxFloodLimit:
		return fmt.Errorf("floodLimit: 0 (off) to %d", MaxFloodLimit)
	case r.FloodWindowSeconds < 1 || r.FloodWindowSeconds > MaxFloodWindow:
		return fmt.Errorf("floodWindowSeconds: 1 to %d", MaxFloodWindow)
	case r.URLLimit < 0 || r.URLLimit > MaxURLLimit:
		return fmt.Errorf("urlLimit: 0 (off) to %d", MaxURLLimit)
	case !(r.RepetitionThreshold >= 0 && r.RepetitionThreshold <= 1):
		return errors.New("repetitionThreshold: 0 (off) to 1")
	case r.MaxLength < 0 || r.MaxLength > MaxRuleLength:
		return fmt.Errorf("maxLength: 0 (off) to %d", MaxRuleLength)
	}
	for i, t := range r.ContentTypes {
		switch ContentType(t) {
		case ContentText, ContentImage, ContentFile:
		default:
			return fmt.Errorf("contentTypes[%d]: %q is not text, image or file", i, t)
		}
		if slices.Contains(r.ContentTypes[:i], t) {
			return fmt.Errorf("contentTypes[%d]: %q listed twice", i, t)
		}
	}
	return nil
}

// ModerationRulesChanged sets an application's rules from its position on.
type ModerationRulesChanged struct {
	Rules ModerationRules `json:"rules"`
}

func (*ModerationRulesChanged) EventType() Type { return TypeModerationRulesChanged }
func (*ModerationRulesChanged) scopeID() string { return "" }
func (e *ModerationRulesChanged) Validate() error {
	if err := e.Rules.Validate(); err != nil {
		return fmt.Errorf("rules.%w", err)
	}
	return nil
}
