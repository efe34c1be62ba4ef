package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
)

const secret = "0123456789abcdef0123456789abcdef"

func noEnv(string) string { return "" }

func chatctl(getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestTokenPrintsAJWTThatVerifiesWithTheSameSecret(t *testing.T) {
	code, out, errOut := chatctl(noEnv, "token", "--app", "geosector", "--user", "alice", "--role", "admin",
		"--entity", "5", "--name", "Alice", "--jwt-secret", secret)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout = %q, want one line", out)
	}
	c, err := auth.Verify([]byte(secret), strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("printed token does not verify: %v", err)
	}
	if c.User() != "alice" || c.App != "geosector" || c.Role != "admin" || c.Entity != "5" || c.Name != "Alice" {
		t.Fatalf("claims = %+v", c)
	}
	if left := time.Until(c.ExpiresAt.Time); left < 23*time.Hour || left > 24*time.Hour+time.Minute {
		t.Fatalf("token valid for %v, want the 24h default", left)
	}
	if _, err := auth.Verify([]byte(strings.ToUpper(secret)), strings.TrimSpace(out)); err == nil {
		t.Fatal("the token verifies with another secret")
	}
}

func TestTokenDefaultsToMemberRole(t *testing.T) {
	code, out, errOut := chatctl(noEnv, "token", "--app=resalice", "--user=bob", "--jwt-secret="+secret, "--ttl=1m")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	c, err := auth.Verify([]byte(secret), strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != "member" {
		t.Fatalf("role = %q, want member", c.Role)
	}
	if left := time.Until(c.ExpiresAt.Time); left > time.Minute+time.Second {
		t.Fatalf("--ttl=1m gave %v", left)
	}
}

func TestTokenReadsTheSecretFromTheEnvironment(t *testing.T) {
	env := func(k string) string {
		if k == "CHAT_JWT_SECRET" {
			return secret + "env"
		}
		return ""
	}
	code, out, errOut := chatctl(env, "token", "--app=geosector", "--user=alice")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if _, err := auth.Verify([]byte(secret+"env"), strings.TrimSpace(out)); err != nil {
		t.Fatalf("token does not verify with CHAT_JWT_SECRET: %v", err)
	}
}

func TestTokenAgreesWithChatdOnTheGeneratedKey(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := chatctl(noEnv, "token", "--app=geosector", "--user=alice", "--data-dir="+dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	cfg, err := config.Load("chatd", []string{"--data-dir=" + dir}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Verify(cfg.JWTSecret, strings.TrimSpace(out)); err != nil {
		t.Fatalf("chatd's key does not verify chatctl's token: %v", err)
	}
}

func TestTokenKnowsApplicationsOfTheConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.yaml")
	if err := os.WriteFile(path, []byte("applications:\n  acme: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := chatctl(noEnv, "token", "--app=acme", "--user=alice", "--jwt-secret="+secret, "--config="+path); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut := chatctl(noEnv, "token", "--app=geosector", "--user=alice", "--jwt-secret="+secret, "--config="+path)
	if code != 2 || !strings.Contains(errOut, `unknown application "geosector"`) {
		t.Fatalf("app replaced by the file: exit %d, stderr %q", code, errOut)
	}
}

func TestChatctlUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"no command", nil, "usage: chatctl"},
		{"unknown command", []string{"tokn"}, `unknown command "tokn"`},
		{"missing app", []string{"token", "--user=alice", "--jwt-secret=" + secret}, "--app and --user are required"},
		{"missing user", []string{"token", "--app=geosector", "--jwt-secret=" + secret}, "--app and --user are required"},
		{"empty user", []string{"token", "--app=geosector", "--user=", "--jwt-secret=" + secret}, "--app and --user are required"},
		{"unknown app", []string{"token", "--app=nope", "--user=alice", "--jwt-secret=" + secret}, `unknown application "nope"`},
		{"invalid user id", []string{"token", "--app=geosector", "--user=a/b", "--jwt-secret=" + secret}, `user "a/b"`},
		{"stray argument", []string{"token", "--app=geosector", "--user=alice", "--jwt-secret=" + secret, "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"token", "--colour=red"}, "colour"},
		{"zero ttl", []string{"token", "--app=geosector", "--user=alice", "--jwt-secret=" + secret, "--ttl=0s"}, "--ttl must be positive"},
		{"negative ttl", []string{"token", "--app=geosector", "--user=alice", "--jwt-secret=" + secret, "--ttl=-1h"}, "--ttl must be positive"},
		{"short secret", []string{"token", "--app=geosector", "--user=alice", "--jwt-secret=short"}, "at least 32 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := chatctl(noEnv, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stdout %q, stderr %q)", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr %q does not say %q", errOut, tc.want)
			}
			if strings.Count(out, ".") >= 2 {
				t.Fatalf("a token was printed on a usage error: %q", out)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		code, out, _ := chatctl(noEnv, arg)
		if code != 0 || !strings.Contains(out, "usage: chatctl") {
			t.Errorf("chatctl %s: exit %d, stdout %q", arg, code, out)
		}
	}
}
