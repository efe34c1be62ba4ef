package moderation

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatbackend/chat/events"
)

// Rules are an application's moderation rules, compiled for deciding.
type Rules struct {
	doc   events.ModerationRules
	words wordList
}

// Compile prepares a validated rules document.
func Compile(doc events.ModerationRules) *Rules {
	return &Rules{doc: doc, words: compileWords(doc.BadWords)}
}

// Doc is the document the rules were compiled from.
func (r *Rules) Doc() events.ModerationRules { return r.doc }

// Sender is what the rules remember of one sender: the times and texts of
// their latest postings, in event time, so a decision depends on the log
// only and not on how fast it is processed.
type Sender struct {
	at    []time.Time // latest postings, oldest first
	texts []recent    // latest texts long enough to repeat, oldest first
	// checked is the last text Check looked at and its trigrams, for
	// Record to reuse.
	checked recent
	text    string
}

type recent struct {
	at    time.Time
	grams []uint64
}

const (
	keepTexts = 5
	// repeatSpan is how far back a text counts for repetition; shorter
	// texts never do ("ok", "yes" are said again and again).
	repeatSpan     = 10 * time.Minute
	repeatMinRunes = 12
)

// Check applies the rules to a message its sender may post, at event time
// at, with what the rules remember of the sender. It does not record the
// message: see Sender.Record.
func (r *Rules) Check(s *Sender, m *events.MessagePosted, at time.Time) Decision {
	d := r.doc
	if !d.Enabled {
		return Decision{Status: events.StatusApproved}
	}
	switch {
	case len(d.ContentTypes) > 0 && !slices.Contains(d.ContentTypes, string(m.ContentType)):
		return rejected(events.ReasonContentType)
	case d.MaxLength > 0 && utf8.RuneCountInString(m.Content) > d.MaxLength:
		return rejected(events.ReasonTooLong)
	case d.FloodLimit > 0 && s.since(at.Add(-time.Duration(d.FloodWindowSeconds)*time.Second)) >= d.FloodLimit:
		return rejected(events.ReasonFlood)
	case d.URLLimit > 0 && countURLs(m.Content) > d.URLLimit:
		return rejected(events.ReasonTooManyURLs)
	case len(d.BadWords) > 0 && r.words.in(tokens(m.Content)):
		if d.BadWordsAction == events.ActionHold {
			return Decision{events.StatusPending, events.ReasonBadWords}
		}
		return rejected(events.ReasonBadWords)
	case d.RepetitionThreshold > 0 && s.repeats(m.Content, at, d.RepetitionThreshold):
		return rejected(events.ReasonRepetition)
	case d.HoldAll:
		return Decision{events.StatusPending, events.ReasonManual}
	}
	return Decision{Status: events.StatusApproved}
}

func rejected(reason string) Decision { return Decision{events.StatusRejected, reason} }

// Record remembers a posting of the sender (decided in any way: a flood of
// refused messages is still a flood) for the rules in force. It keeps only
// what those rules can look at, so a sender costs a few hundred bytes; what
// it keeps depends on the log alone, so a replay remembers the same.
func (s *Sender) Record(content string, at time.Time, r *Rules) {
	keep := r.doc.FloodLimit
	window := time.Duration(r.doc.FloodWindowSeconds) * time.Second
	s.at = append(s.at, at)
	drop := max(0, len(s.at)-keep)
	for drop < len(s.at) && at.Sub(s.at[drop]) > window {
		drop++
	}
	s.at = slices.Delete(s.at, 0, drop)
	for len(s.texts) > 0 && at.Sub(s.texts[0].at) > repeatSpan {
		s.texts = slices.Delete(s.texts, 0, 1)
	}
	if r.doc.RepetitionThreshold == 0 || utf8.RuneCountInString(content) < repeatMinRunes {
		return
	}
	grams := s.checked.grams
	if s.text != content || grams == nil {
		grams = trigrams(content)
	}
	s.texts = append(s.texts, recent{at: at, grams: grams})
	s.checked, s.text = recent{}, ""
	if len(s.texts) > keepTexts {
		s.texts = slices.Delete(s.texts, 0, 1)
	}
}

// since counts the postings at or after from.
func (s *Sender) since(from time.Time) int {
	n := 0
	for i := len(s.at) - 1; i >= 0 && !s.at[i].Before(from); i-- {
		n++
	}
	return n
}

// repeats reports whether content is at least threshold similar (Jaccard
// index of character trigrams of the normalised text) to one of the
// sender's texts of the last repeatSpan.
func (s *Sender) repeats(content string, at time.Time, threshold float64) bool {
	if utf8.RuneCountInString(content) < repeatMinRunes {
		return false
	}
	g := trigrams(content)
	s.checked, s.text = recent{grams: g}, content
	for _, t := range s.texts {
		if at.Sub(t.at) <= repeatSpan && jaccard(g, t.grams) >= threshold {
			return true
		}
	}
	return false
}

// trigrams of the normalised text (its tokens joined by one space), as a
// sorted set of hashes: no allocation per trigram.
func trigrams(text string) []uint64 {
	rs := []rune(strings.Join(tokens(text), " "))
	out := make([]uint64, 0, len(rs))
	for i := 0; i+3 <= len(rs) || i == 0; i++ {
		var h uint64 = 14695981039346656037 // FNV-1a over the (up to) three runes
		for _, r := range rs[i:min(i+3, len(rs))] {
			h = (h ^ uint64(r)) * 1099511628211
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// jaccard is the Jaccard index of two sorted sets.
func jaccard(a, b []uint64) float64 {
	inter := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// countURLs counts links: each http://, https:// and www. not part of one
// of them, in any case.
func countURLs(text string) int {
	lower := strings.ToLower(text)
	n := strings.Count(lower, "http://") + strings.Count(lower, "https://")
	n += strings.Count(lower, "www.") - strings.Count(lower, "://www.")
	return n
}
