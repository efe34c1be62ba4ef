// Package httpx holds what every REST handler shares: authentication, the
// error shape of PROTOCOL §3, JSON bodies, routing answers and the headers of
// API answers.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/logx"
	"github.com/chatbackend/chat/services/strictjson"
)

// MaxBody bounds every request body.
const MaxBody = 64 << 10

// Error is an API error with its code (PROTOCOL §2 error codes).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an API error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common errors.
var (
	ErrNotFound  = Errorf(http.StatusNotFound, "not_found", "no such conversation")
	ErrNotMember = Errorf(http.StatusForbidden, "not_member", "you are not a member of this conversation")
)

// WriteError answers with the error shape; unexpected errors become 500 and
// are logged, never shown.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		slog.Error("request failed", "method", r.Method, "path", logx.Cut(r.URL.Path), "err", err)
		e = Errorf(http.StatusInternalServerError, "internal", "internal error")
	}
	WriteJSON(w, e.Status, map[string]*Error{"error": e})
}

// WriteJSON answers with a JSON body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadJSON decodes a bounded application/json body into v with the strict
// rules of package strictjson: unknown fields, duplicate keys, keys in
// another case and data after the object are refused, so a misspelt or
// smuggled field is an error rather than silently ignored or overriding.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return ReadJSONUpTo(w, r, v, MaxBody)
}

// ReadJSONUpTo is ReadJSON for the few bodies allowed past MaxBody (a
// directory batch), up to limit bytes.
func ReadJSONUpTo(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "too_large", "body exceeds %d bytes", limit)
		}
		return Errorf(http.StatusBadRequest, "invalid_payload", "body could not be read")
	}
	if err := strictjson.Decode(body, v); err != nil {
		return Errorf(http.StatusBadRequest, "invalid_payload", "body: %v", err)
	}
	return nil
}

// requireJSON refuses a body that does not say it is JSON: a form or plain
// text post (what a browser sends cross-site without asking) never reaches a
// handler.
func requireJSON(r *http.Request) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ok := err == nil && mt == "application/json"
	for name, value := range params {
		ok = ok && name == "charset" && strings.EqualFold(value, "utf-8")
	}
	if !ok {
		return Errorf(http.StatusUnsupportedMediaType, "unsupported", "Content-Type must be application/json")
	}
	return nil
}

// NoStore sets the headers of API answers, errors included: they are
// per-user and change with every write, so no cache keeps them, and browsers
// take their declared type as it is.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Routed serves requests with mux, answering in the error shape a path no
// route knows (404) and a known path asked with another method (405, with
// the Allow header listing the methods it takes).
func Routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux knows which of 404 and 405 it is; ask it, keep its Allow.
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			allow := probe.header.Get("Allow")
			w.Header().Set("Allow", allow)
			WriteError(w, r, Errorf(http.StatusMethodNotAllowed, "unsupported", "method %s is not allowed here; use %s", logx.Cut(r.Method), allow))
			return
		}
		WriteError(w, r, Errorf(http.StatusNotFound, "not_found", "no endpoint %s %s", logx.Cut(r.Method), logx.Cut(r.URL.Path)))
	})
}

// statusProbe records the status and headers an answer would have.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

type claimsKey struct{}

// Caller is the authenticated identity of a request.
type Caller struct {
	*auth.Claims
	App *config.App
}

// CallerOf returns the request's caller; Authenticate guarantees one.
func CallerOf(r *http.Request) *Caller { return r.Context().Value(claimsKey{}).(*Caller) }

// Authenticate requires a valid Bearer token of a configured application.
func Authenticate(secret []byte, apps config.Apps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			WriteError(w, r, Errorf(http.StatusUnauthorized, "unauthenticated", "missing Bearer token"))
			return
		}
		c, err := auth.Verify(secret, strings.TrimSpace(tok))
		if err != nil {
			slog.Warn("security: rest token refused", "remote", r.RemoteAddr, "path", logx.Cut(r.URL.Path), "err", logx.Cut(err.Error()))
			WriteError(w, r, Errorf(http.StatusUnauthorized, "unauthenticated", "invalid or expired token"))
			return
		}
		app := apps[c.App]
		if app == nil {
			WriteError(w, r, Errorf(http.StatusUnauthorized, "unauthenticated", "unknown application %q", c.App))
			return
		}
		ctx := context.WithValue(r.Context(), claimsKey{}, &Caller{Claims: c, App: app})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
