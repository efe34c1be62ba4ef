package logx_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbackend/chat/services/logx"
)

func TestCutKeepsShortStringsWhole(t *testing.T) {
	for _, s := range []string{"", "alice", strings.Repeat("a", logx.MaxBytes)} {
		if got := logx.Cut(s); got != s {
			t.Errorf("Cut(%q) = %q", s, got)
		}
	}
}

func TestCutBoundsLongStringsAndSaysHowLong(t *testing.T) {
	got := logx.Cut(strings.Repeat("x", 60000))
	want := strings.Repeat("x", logx.MaxBytes) + "…(60000 bytes)"
	if got != want {
		t.Fatalf("Cut = %q, want %q", got, want)
	}
}

func TestCutNeverSplitsARune(t *testing.T) {
	for shift := range 4 {
		s := strings.Repeat("a", shift) + strings.Repeat("é€😀", 50)
		got := logx.Cut(s)
		if !utf8.ValidString(got) {
			t.Fatalf("shift %d: Cut split a rune: %q", shift, got)
		}
		kept, _, _ := strings.Cut(got, "…(")
		if len(kept) > logx.MaxBytes || len(kept) < logx.MaxBytes-3 || !strings.HasPrefix(s, kept) {
			t.Fatalf("shift %d: kept %d bytes %q", shift, len(kept), kept)
		}
	}
}

func FuzzCut(f *testing.F) {
	f.Add(strings.Repeat("€", 40))
	f.Add("\xff\xfe" + strings.Repeat("a", 200))
	f.Fuzz(func(t *testing.T, s string) {
		got := logx.Cut(s)
		if len(got) > logx.MaxBytes+32 {
			t.Fatalf("Cut left %d bytes", len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Cut made valid UTF-8 invalid: %q", got)
		}
	})
}
