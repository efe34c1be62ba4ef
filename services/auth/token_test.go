package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatbackend/chat/services/auth"
)

var (
	key   = []byte("0123456789abcdef0123456789abcdef")
	other = []byte("fedcba9876543210fedcba9876543210")
)

func TestMintedTokenVerifiesWithItsClaims(t *testing.T) {
	now := time.Now()
	tok, err := auth.Mint(key, "geosector", "alice", "admin", "5", "Alice A.", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.Verify(key, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.User() != "alice" || c.App != "geosector" || c.Role != "admin" || c.Entity != "5" || c.Name != "Alice A." {
		t.Fatalf("claims = %+v", c)
	}
	if c.IsService() {
		t.Fatal("an admin token is a service token")
	}
	if c.ExpiresAt == nil || !c.ExpiresAt.Time.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("exp = %v, want now+1h", c.ExpiresAt)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &auth.Claims{})
	if err != nil || parsed.Method.Alg() != "HS256" {
		t.Fatalf("alg = %v (%v), want HS256", parsed.Method.Alg(), err)
	}
}

func TestServiceRoleMarksAServiceToken(t *testing.T) {
	tok, err := auth.Mint(key, "geosector", "chat-bridge", auth.RoleService, "", "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.Verify(key, tok)
	if err != nil || !c.IsService() {
		t.Fatalf("IsService = %v (%v), want true", c != nil && c.IsService(), err)
	}
}

func TestMintRefusesInvalidIdentities(t *testing.T) {
	for _, tc := range []struct{ app, user string }{
		{"geosector", ""}, {"geosector", "a/b"}, {"geosector", "+"}, {"geosector", strings.Repeat("u", 65)},
		{"", "alice"}, {"geo.sector", "alice"},
	} {
		if tok, err := auth.Mint(key, tc.app, tc.user, "member", "", "", time.Hour, time.Now()); err == nil {
			t.Errorf("Mint(%q, %q) = %q, want an error", tc.app, tc.user, tok)
		}
	}
}

// sign builds a token by hand, for the shapes Mint never produces.
func sign(t *testing.T, m jwt.SigningMethod, k any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	now := time.Now()
	valid := func(mut func(*auth.Claims)) *auth.Claims {
		c := &auth.Claims{App: "geosector", Role: "member", RegisteredClaims: jwt.RegisteredClaims{
			Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}
		if mut != nil {
			mut(c)
		}
		return c
	}
	expired, err := auth.Mint(key, "geosector", "alice", "member", "", "", time.Hour, now.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, key, valid(nil))
	parts := strings.Split(good, ".")
	elevated := strings.Split(sign(t, jwt.SigningMethodHS256, other, valid(func(c *auth.Claims) { c.Role = auth.RoleService })), ".")

	cases := []struct {
		name, token string
	}{
		{"expired", expired},
		{"signed with another key", sign(t, jwt.SigningMethodHS256, other, valid(nil))},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid(nil))},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, key, valid(nil))},
		{"HS384 with the right key", sign(t, jwt.SigningMethodHS384, key, valid(nil))},
		{"missing exp", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.ExpiresAt = nil }))},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) }))},
		{"missing sub", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.Subject = "" }))},
		{"sub with slash", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.Subject = "alice/../bob" }))},
		{"sub wildcard", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.Subject = "#" }))},
		{"sub too long", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.Subject = strings.Repeat("a", 65) }))},
		{"missing app", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.App = "" }))},
		{"app with dot", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.App = "geo.sector" }))},
		{"payload swapped under a valid signature", parts[0] + "." + elevated[1] + "." + parts[2]},
		{"signature removed", parts[0] + "." + parts[1] + "."},
		{"empty", ""},
		{"garbage", "not.a.jwt"},
		{"exp as a string", signMap(t, claimsWith("exp", `"9999999999"`))},
		{"exp as an object", signMap(t, claimsWith("exp", `{"n":9999999999}`))},
		{"nbf as a string", signMap(t, claimsWith("nbf", `"0"`))},
		{"iat as a string", signMap(t, claimsWith("iat", `"0"`))},
		{"iat null", signMap(t, claimsWith("iat", `null`))},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }))},
		{"issued past the leeway", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(auth.Leeway + 5*time.Second))
		}))},
		{"expired past the leeway", sign(t, jwt.SigningMethodHS256, key, valid(func(c *auth.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-auth.Leeway - 5*time.Second))
		}))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := auth.Verify(key, tc.token)
			if err == nil {
				t.Fatalf("Verify accepted %+v", c)
			}
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("error %v is not ErrInvalidToken", err)
			}
			if c != nil {
				t.Fatalf("claims returned with an error: %+v", c)
			}
		})
	}
}

// claimsWith is a valid claim set, as JSON, with one claim set to raw JSON.
func claimsWith(name, raw string) map[string]json.RawMessage {
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	m := map[string]json.RawMessage{"sub": json.RawMessage(`"alice"`), "app": json.RawMessage(`"geosector"`),
		"role": json.RawMessage(`"member"`), "exp": json.RawMessage(exp)}
	m[name] = json.RawMessage(raw)
	return m
}

// signMap signs claims exactly as given, whatever their types.
func signMap(t *testing.T, claims map[string]json.RawMessage) string {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := jwt.SigningMethodHS256.Sign(head, key)
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyAcceptsNumericTimesAndSmallClockSkew(t *testing.T) {
	now := time.Now()
	for name, claims := range map[string]map[string]json.RawMessage{
		"hand-built":                  claimsWith("iat", strconv.FormatInt(now.Unix(), 10)),
		"iat just ahead of our clock": claimsWith("iat", strconv.FormatInt(now.Add(auth.Leeway/2).Unix(), 10)),
		"fractional exp":              claimsWith("exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+".5"),
		"nbf in the past":             claimsWith("nbf", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)),
	} {
		if _, err := auth.Verify(key, signMap(t, claims)); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

func TestVerifyAcceptsAHandBuiltValidToken(t *testing.T) {
	// The refusals above differ from this token in one field each.
	c := &auth.Claims{App: "geosector", Role: "member", RegisteredClaims: jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
	if _, err := auth.Verify(key, sign(t, jwt.SigningMethodHS256, key, c)); err != nil {
		t.Fatalf("Verify refused a valid token: %v", err)
	}
}
