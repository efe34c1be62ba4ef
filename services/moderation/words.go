package moderation

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Bad words are matched on a normalised form of the text that undoes the
// usual disguises: case, accents ("connärd"), letters repeated
// ("idioooot"), digits and signs for letters ("1d10t", "$hit") and letters
// spread out ("i.d.i.o.t", "i d i o t"). Matching is by whole token, so a
// word containing a bad one ("conversation" for "con") passes. The work is
// linear in the text, whatever the size of the list.

// fold maps a rune to the letter it disguises (0: a separator).
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		return asciiFold[r]
	}
	if f, ok := accentFold[r]; ok {
		return f
	}
	if unicode.IsLetter(r) || unicode.IsNumber(r) {
		return unicode.ToLower(r)
	}
	return 0
}

// leet turns the digits and signs that stand for letters into them; it is
// applied only to tokens that hold a letter, so numbers stay numbers.
var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

var asciiFold = func() (t [utf8.RuneSelf]rune) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			t[r] = r
		case r >= 'A' && r <= 'Z':
			t[r] = r + 'a' - 'A'
		case r == '@' || r == '$':
			t[r] = r
		}
	}
	return t
}()

// accentFold maps the Latin letters with diacritics to their base letter,
// computed once from their canonical decomposition.
var accentFold = func() map[rune]rune {
	m := map[rune]rune{'ß': 's', 'æ': 'a', 'Æ': 'a', 'œ': 'o', 'Œ': 'o', 'ø': 'o', 'Ø': 'o', 'đ': 'd', 'Đ': 'd', 'ł': 'l', 'Ł': 'l'}
	for r := rune(0xC0); r <= 0x24F; r++ {
		if _, ok := m[r]; ok {
			continue
		}
		d := []rune(norm.NFD.String(string(r)))
		if len(d) > 1 && d[0] < utf8.RuneSelf && unicode.IsLetter(d[0]) {
			m[r] = unicode.ToLower(d[0])
		}
	}
	return m
}()

// tokens splits text into normalised tokens, each with its repeated letters
// collapsed, followed by every run of two or more one-letter tokens joined
// into one ("b.a.d" also gives "bad"). The tokens are slices of one string.
func tokens(text string) []string {
	var buf []byte  // the tokens, one after the other
	var ends []int  // where each token ends in buf
	var tok []rune  // the token being read
	var run []rune  // consecutive one-letter tokens
	var runs []byte // the joined runs, appended after the tokens
	add := func(rs []rune) {
		var last rune = -1
		for _, r := range rs {
			if r != last {
				buf = utf8.AppendRune(buf, r)
			}
			last = r
		}
		ends = append(ends, len(buf))
	}
	endRun := func() {
		if len(run) >= 2 {
			start := len(buf)
			add(run)
			runs = append(runs, buf[start:]...)
			buf, ends = buf[:start], ends[:len(ends)-1]
			runs = append(runs, 0) // ends a run
		}
		run = run[:0]
	}
	flush := func() {
		if len(tok) == 0 {
			return
		}
		if hasLetter(tok) {
			for i, r := range tok {
				if l, ok := leet[r]; ok {
					tok[i] = l
				}
			}
		}
		start := len(buf)
		add(tok)
		if utf8.RuneCount(buf[start:]) == 1 {
			run = append(run, tok[0])
		} else {
			endRun()
		}
		tok = tok[:0]
	}
	for _, r := range text {
		if f := fold(r); f != 0 {
			tok = append(tok, f)
			continue
		}
		flush()
	}
	flush()
	endRun()
	// One string for every token, then the joined runs after them.
	n := len(buf)
	all := string(append(buf, runs...))
	out := make([]string, 0, len(ends)+4)
	from := 0
	for _, end := range ends {
		out = append(out, all[from:end])
		from = end
	}
	for from = n; from < len(all); {
		end := from + strings.IndexByte(all[from:], 0)
		out = append(out, all[from:end])
		from = end + 1
	}
	return out
}

// hasLetter reports whether a token holds a letter that is not a stand-in
// digit or sign.
func hasLetter(tok []rune) bool {
	for _, r := range tok {
		if _, isLeet := leet[r]; !isLeet && !unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// wordList is a compiled bad-words list.
type wordList struct {
	words   map[string]bool
	phrases map[string][][]string // phrases of several tokens, by first token
}

func compileWords(list []string) wordList {
	w := wordList{words: map[string]bool{}, phrases: map[string][][]string{}}
	for _, entry := range list {
		ts := tokens(entry)
		switch {
		case len(ts) == 0:
		case len(ts) == 1:
			w.words[ts[0]] = true
		default:
			// A phrase's own one-letter run is not part of it.
			if n := countWords(entry); n > 1 && n <= len(ts) {
				ts = ts[:n]
			}
			w.phrases[ts[0]] = append(w.phrases[ts[0]], ts)
		}
	}
	return w
}

// countWords is how many tokens entry has before any joined run.
func countWords(entry string) int {
	n := 0
	in := false
	for _, r := range entry {
		if fold(r) != 0 {
			if !in {
				n++
			}
			in = true
		} else {
			in = false
		}
	}
	return n
}

// in reports whether the tokens of a text hold a word or phrase of the
// list.
func (w wordList) in(ts []string) bool {
	for i, t := range ts {
		if w.words[t] {
			return true
		}
		for _, p := range w.phrases[t] {
			if i+len(p) <= len(ts) && equal(ts[i:i+len(p)], p) {
				return true
			}
		}
	}
	return false
}

func equal(a, b []string) bool {
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
