package moderation_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/moderation"
)

func rules(change func(*events.ModerationRules)) *moderation.Rules {
	doc := config.DefaultRules(events.ModerationRules{Enabled: true})
	change(&doc)
	if err := doc.Validate(); err != nil {
		panic(err)
	}
	return moderation.Compile(doc)
}

func TestBadWordsAreFoundUnderTheirDisguises(t *testing.T) {
	r := rules(func(d *events.ModerationRules) {
		d.BadWords = []string{"idiot", "connard", "con", "shit", "fils de pute", "bitch"}
	})
	for _, tc := range []struct {
		text string
		bad  bool
	}{
		// English and French, plain and disguised
		{"you idiot", true}, {"IDIOT!", true}, {"idiooooot", true}, {"1d10t", true}, {"i.d.i.o.t", true},
		{"i d i o t", true}, {"I-D-I-O-T", true}, {"ïdîöt", true}, {"quel connard", true}, {"connärd", true},
		{"c0nn4rd", true}, {"CONNNNARD", true}, {"$hit happens", true}, {"sh1t", true}, {"espèce de con", true},
		{"c.o.n", true}, {"fils de pute", true}, {"FILS   DE  PUTE", true}, {"fils-de-pute", true}, {"b1tch", true},
		// innocent words that contain a bad one, or look like one
		{"conversation", false}, {"c o n v e r s a t i o n", false}, {"contre", false}, {"second", false},
		{"idiotic", false}, {"shiitake", false}, {"Scunthorpe", false}, {"bitchy", false}, {"fils de Paul", false},
		{"I am here, a bit late", false}, {"le 1er mai 2026 à 10h", false}, {"", false}, {"déconnecté", false},
	} {
		got := r.Check(&moderation.Sender{}, post("bob", tc.text), t0).Reason == events.ReasonBadWords
		if got != tc.bad {
			t.Errorf("%q: bad = %v, want %v", tc.text, got, tc.bad)
		}
	}
}

func TestEachRuleDecides(t *testing.T) {
	withType := func(m *events.MessagePosted, ct events.ContentType) *events.MessagePosted {
		m.ContentType = ct
		return m
	}
	pending := func(reason string) moderation.Decision {
		return moderation.Decision{Status: events.StatusPending, Reason: reason}
	}
	rejected := func(reason string) moderation.Decision {
		return moderation.Decision{Status: events.StatusRejected, Reason: reason}
	}
	for _, tc := range []struct {
		name   string
		change func(*events.ModerationRules)
		m      *events.MessagePosted
		want   moderation.Decision
	}{
		{"too long", func(d *events.ModerationRules) { d.MaxLength = 10 }, post("bob", "12345678901"), rejected(events.ReasonTooLong)},
		{"ten letters, more bytes", func(d *events.ModerationRules) { d.MaxLength = 10 }, post("bob", "éléphantés"), approved},
		{"a type not allowed", func(d *events.ModerationRules) { d.ContentTypes = []string{"text"} },
			withType(post("bob", "photo"), events.ContentImage), rejected(events.ReasonContentType)},
		{"an allowed type", func(d *events.ModerationRules) { d.ContentTypes = []string{"text", "image"} },
			withType(post("bob", "photo"), events.ContentImage), approved},
		{"two links", func(d *events.ModerationRules) { d.URLLimit = 2 }, post("bob", "see http://a.example and HTTPS://b.example"), approved},
		{"three links", func(d *events.ModerationRules) { d.URLLimit = 2 },
			post("bob", "http://a.example https://b.example www.c.example"), rejected(events.ReasonTooManyURLs)},
		{"a link counted once", func(d *events.ModerationRules) { d.URLLimit = 1 }, post("bob", "https://www.a.example"), approved},
		{"held bad words", func(d *events.ModerationRules) { d.BadWords, d.BadWordsAction = []string{"idiot"}, events.ActionHold },
			post("bob", "idiot"), pending(events.ReasonBadWords)},
		{"everything held", func(d *events.ModerationRules) { d.HoldAll = true }, post("bob", "hello"), pending(events.ReasonManual)},
		{"a rejection before holding", func(d *events.ModerationRules) { d.HoldAll, d.MaxLength = true, 2 },
			post("bob", "hello"), rejected(events.ReasonTooLong)},
		{"disabled", func(d *events.ModerationRules) { d.Enabled, d.HoldAll, d.BadWords = false, true, []string{"idiot"} },
			post("bob", "idiot"), approved},
	} {
		if got := rules(tc.change).Check(&moderation.Sender{}, tc.m, t0); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// run decides contents posted by one sender at the given offsets from t0.
func run(r *moderation.Rules, posts []string, at []time.Duration) []moderation.Decision {
	var s moderation.Sender
	var out []moderation.Decision
	for i, c := range posts {
		when := t0.Add(at[i])
		out = append(out, r.Check(&s, post("bob", c), when))
		s.Record(c, when, r)
	}
	return out
}

func TestFloodIsCountedInEventTime(t *testing.T) {
	r := rules(func(d *events.ModerationRules) { d.FloodLimit, d.FloodWindowSeconds = 3, 10 })
	s := time.Second
	got := run(r, []string{"a", "b", "c", "d", "e", "f"}, []time.Duration{0, 1 * s, 2 * s, 3 * s, 13 * s, 14 * s})
	want := []events.ModerationStatus{events.StatusApproved, events.StatusApproved, events.StatusApproved,
		events.StatusRejected, events.StatusApproved, events.StatusApproved}
	for i := range want {
		if got[i].Status != want[i] {
			t.Errorf("posting %d: %+v, want %s", i, got[i], want[i])
		}
	}
	if got[3].Reason != events.ReasonFlood {
		t.Errorf("the fourth posting: %+v, want flood", got[3])
	}
}

func TestRepetitionOfALongTextIsRefused(t *testing.T) {
	r := rules(func(d *events.ModerationRules) { d.RepetitionThreshold = 0.8 })
	spam := "Buy cheap watches at my shop today"
	got := run(r, []string{spam, "ok", "ok", spam + "!", "something else entirely, really", spam},
		[]time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 20 * time.Minute})
	want := []string{"", "", "", events.ReasonRepetition, "", ""}
	for i := range want {
		if got[i].Reason != want[i] {
			t.Errorf("posting %d: %+v, want reason %q", i, got[i], want[i])
		}
	}
}

func TestRulesDocumentsOutOfRangeAreRefused(t *testing.T) {
	for name, change := range map[string]func(*events.ModerationRules){
		"negative flood":     func(d *events.ModerationRules) { d.FloodLimit = -1 },
		"huge flood":         func(d *events.ModerationRules) { d.FloodLimit = events.MaxFloodLimit + 1 },
		"no window":          func(d *events.ModerationRules) { d.FloodWindowSeconds = 0 },
		"threshold above 1":  func(d *events.ModerationRules) { d.RepetitionThreshold = 1.5 },
		"unknown action":     func(d *events.ModerationRules) { d.BadWordsAction = "ban" },
		"unknown type":       func(d *events.ModerationRules) { d.ContentTypes = []string{"video"} },
		"empty word":         func(d *events.ModerationRules) { d.BadWords = []string{""} },
		"long word":          func(d *events.ModerationRules) { d.BadWords = []string{strings.Repeat("a", 65)} },
		"too many words":     func(d *events.ModerationRules) { d.BadWords = make([]string, events.MaxBadWords+1) },
		"NUL in a word":      func(d *events.ModerationRules) { d.BadWords = []string{"a\x00b"} },
		"negative url limit": func(d *events.ModerationRules) { d.URLLimit = -2 },
	} {
		doc := config.DefaultRules(events.ModerationRules{Enabled: true})
		change(&doc)
		if err := doc.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkDecide measures the pure decision with every rule on and a
// 500-word list (goal: 50,000 decisions/s on one core).
func BenchmarkDecide(b *testing.B) {
	words := make([]string, 500)
	for i := range words {
		words[i] = fmt.Sprintf("badword%d", i)
	}
	r := rules(func(d *events.ModerationRules) {
		d.BadWords, d.FloodLimit, d.URLLimit, d.RepetitionThreshold, d.MaxLength = words, 50, 3, 0.8, 4000
		d.ContentTypes = []string{"text", "image"}
	})
	c := conv(events.ReplyAll)
	texts := []string{
		"Bonjour à tous, la réunion de demain est déplacée à 14h, salle B. Merci de confirmer.",
		"Can someone check https://example.com/report before the review? Thanks!",
		"ok",
		"Les relevés du secteur 5 sont à jour, il manque encore ceux de l'équipe de nuit.",
	}
	senders := make([]*moderation.Sender, 64)
	for i := range senders {
		senders[i] = &moderation.Sender{}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := senders[i%len(senders)]
		text := texts[i%len(texts)]
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		moderation.Decide(r, s, c, post("bob", text), at)
		s.Record(text, at, r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
