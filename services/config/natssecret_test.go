package config

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestNATSSecretIsCreatedOnFirstUseOwnerOnlyAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := &Config{DataDir: dir}
	if _, err := os.Stat(filepath.Join(dir, "nats.secret")); !os.IsNotExist(err) {
		t.Fatalf("nats.secret exists before anyone asked for it: %v", err)
	}
	first, err := c.NATSSecret()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "nats.secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("nats.secret: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	if len(first) != 64 {
		t.Fatalf("secret %q is not 32 random bytes in hex", first)
	}
	if again, err := c.NATSSecret(); err != nil || again != first {
		t.Fatalf("second read gave %q (%v), want %q", again, err, first)
	}
}

func TestConcurrentFirstUsesAgreeOnOneNATSSecret(t *testing.T) {
	c := &Config{DataDir: t.TempDir()}
	got := make([]string, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			s, err := c.NATSSecret()
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for _, s := range got {
		if s == "" || s != got[0] {
			t.Fatalf("creators disagree: %q", got)
		}
	}
	left, _ := filepath.Glob(filepath.Join(c.DataDir, "*.tmp"))
	if len(left) > 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestEmptyKeyFileIsAnErrorNotAnEmptyKey(t *testing.T) {
	c := &Config{DataDir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(c.DataDir, "nats.secret"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := c.NATSSecret(); err == nil {
		t.Fatalf("an empty key file gave the key %q", s)
	}
}
