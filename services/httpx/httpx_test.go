package httpx_test

import (
	"errors"
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
		var v struct {
			A int `json:"a"`
		}
		req := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		err := httpx.ReadJSON(httptest.NewRecorder(), req, &v)
		if (err == nil) != want {
			t.Errorf("%s: err %v", body, err)
		}
	}
}

func TestReadJSONRequiresAJSONContentType(t *testing.T) {
	for ct, want := range map[string]int{
		"application/json": 0, "application/json; charset=utf-8": 0, "Application/JSON; charset=UTF-8": 0,
		"": 415, "text/plain": 415, "application/x-www-form-urlencoded": 415, "application/json; charset=latin1": 415,
		"application/json; boundary=x": 415, "application/jsonx": 415, "application/json;;": 415,
	} {
		req := httptest.NewRequest("POST", "/x", strings.NewReader(`{}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		var v struct{}
		err := httpx.ReadJSON(httptest.NewRecorder(), req, &v)
		var e *httpx.Error
		switch {
		case want == 0 && err != nil:
			t.Errorf("Content-Type %q refused: %v", ct, err)
		case want != 0 && (!errors.As(err, &e) || e.Status != want || e.Code != "unsupported"):
			t.Errorf("Content-Type %q: %v, want %d unsupported", ct, err, want)
		}
	}
}

func TestReadJSONErrorsNameTheFieldNotGoTypes(t *testing.T) {
	var v struct {
		IDs []string `json:"participantIds"`
	}
	req := httptest.NewRequest("POST", "/x", strings.NewReader(`{"participantIds":"bob"}`))
	req.Header.Set("Content-Type", "application/json")
	err := httpx.ReadJSON(httptest.NewRecorder(), req, &v)
	if err == nil || err.Error() != "invalid_payload: body: participantIds: expected a list of strings, got a string" {
		t.Fatalf("error %v", err)
	}
}

func TestRoutedAnswersUnknownPathsAndWrongMethodsInTheErrorShape(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("thing")) })
	mux.HandleFunc("DELETE /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := httpx.Routed(mux)
	for _, tc := range []struct {
		method, path string
		status       int
		allow, body  string
	}{
		{"GET", "/things/1", 200, "", "thing"},
		{"HEAD", "/things/1", 200, "", ""},
		{"DELETE", "/things/1", 204, "", ""},
		{"POST", "/things/1", 405, "DELETE, GET, HEAD", `"code":"unsupported"`},
		{"PATCH", "/things/1", 405, "DELETE, GET, HEAD", `"code":"unsupported"`},
		{"GET", "/others", 404, "", `"code":"not_found"`},
		{"POST", "/others", 404, "", `"code":"not_found"`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: %d Allow=%q %s, want %d Allow=%q %s", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"),
				rec.Body, tc.status, tc.allow, tc.body)
		}
	}
}

func TestNoStoreMarksEveryAnswer(t *testing.T) {
	h := httpx.NoStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, httpx.ErrNotFound)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", rec.Header())
	}
}
