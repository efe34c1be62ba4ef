// Package httpx holds what every REST handler shares: authentication, the
// error shape of PROTOCOL §3 and JSON bodies.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
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
		slog.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
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

// ReadJSON decodes a bounded JSON body into v, refusing unknown fields so a
// misspelt field is an error rather than silently ignored.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "too_large", "body exceeds %d bytes", MaxBody)
		}
		return Errorf(http.StatusBadRequest, "invalid_payload", "body is not valid JSON for this request: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(http.StatusBadRequest, "invalid_payload", "body has data after the JSON object")
	}
	return nil
}

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
			slog.Warn("security: rest token refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
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
