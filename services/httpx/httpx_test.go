package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/httpx"
)

var secret = []byte(strings.Repeat("s", 32))

func TestAuthenticateAcceptsTheBearerSchemeInAnyCase(t *testing.T) {
	apps := config.Defaults()
	tok, err := auth.Mint(secret, "geosector", "alice", "member", "", "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := httpx.Authenticate(secret, apps, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(httpx.CallerOf(r).User()))
	}))
	for header, want := range map[string]int{
		"Bearer " + tok: 200, "bearer " + tok: 200, "BEARER " + tok: 200,
		"Basic " + tok: 401, "Bearer": 401, "Bearer  ": 401, tok: 401, "": 401,
	} {
		req := httptest.NewRequest("GET", "/x", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %.20q: %d, want %d", header, rec.Code, want)
		}
		if want == 200 && rec.Body.String() != "alice" {
			t.Errorf("caller %q", rec.Body.String())
		}
	}
}

func TestReadJSONRefusesTrailingData(t *testing.T) {
	for body, want := range map[string]bool{`{"a":1}`: true, `{"a":1} `: true, `{"a":1}}`: false, `{"a":1}{}`: false, `{"b":1}`: false} {
		var v struct{ A int }
		req := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		err := httpx.ReadJSON(httptest.NewRecorder(), req, &v)
		if (err == nil) != want {
			t.Errorf("%s: err %v", body, err)
		}
	}
}
