// Package logx keeps user-controlled strings from flooding the logs.
package logx

import (
	"strconv"
	"unicode/utf8"
)

// MaxBytes is how much of a string Cut keeps.
const MaxBytes = 100

// Cut bounds s to about MaxBytes for a log line: a longer string keeps its
// first bytes, never splitting a UTF-8 sequence, followed by a marker with its
// full length, so a 60 KB topic costs the log a hundred bytes.
func Cut(s string) string {
	if len(s) <= MaxBytes {
		return s
	}
	end := MaxBytes
	// Back up to the start of a rune; invalid bytes are kept as they are.
	for end > MaxBytes-utf8.UTFMax && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
