package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/ratelimit"
	"github.com/chatbackend/chat/sql/db"
)

// RoleAnonymous is the role of a visitor's token: it reaches only the
// visitor's own conversation (anonymousRoutes) and topics.
const RoleAnonymous = "anonymous"

// AnonymousLimits are POST /anonymous's token buckets, per application.
type AnonymousLimits struct {
	Devices   ratelimit.ByApp // keyed by device id
	Addresses ratelimit.ByApp // keyed by client address
}

// Bounds of what a visitor says about itself.
const (
	maxVisitorName   = 100
	maxVisitorEmail  = 254
	maxMetadataKeys  = 20
	maxMetadataKey   = 64
	maxMetadataValue = 512
	minDeviceID      = 16
	maxDeviceID      = 128
)

// anonymousRoutes are the REST endpoints a visitor's token may use: reading
// and acting on its own conversation (membership decides which), nothing
// that creates conversations, lists other users or administers.
var anonymousRoutes = map[string]bool{
	"GET /conversations":                   true,
	"GET /conversations/{id}":              true,
	"GET /conversations/{id}/messages":     true,
	"GET /conversations/{id}/participants": true,
	"PUT /messages/{id}":                   true,
	"DELETE /messages/{id}":                true,
	"GET /messages/{id}/receipts":          true,
	"GET /sync":                            true,
	"POST /files":                          true,
	"GET /files/{id}":                      true,
}

// tokenScope refuses revoked tokens (a visitor converted into a client:
// 401 at once) and keeps a visitor's token to anonymousRoutes (403).
func (a *API) tokenScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := httpx.CallerOf(r)
		if a.Revoked != nil && a.Revoked.Revoked(caller.App.Name, caller.User()) {
			httpx.WriteError(w, r, httpx.Errorf(http.StatusUnauthorized, "unauthenticated", "this visitor became a known client: its token no longer works"))
			return
		}
		if visitor(caller) && !anonymousRoutes[r.Pattern] {
			httpx.WriteError(w, r, httpx.Errorf(http.StatusForbidden, "forbidden", "an anonymous visitor's token reaches only its own conversation"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// visitor reports whether the caller is an anonymous visitor: by its role,
// or by its id, which no known user may have (PROTOCOL §1).
func visitor(c *httpx.Caller) bool { return c.Role == RoleAnonymous || events.IsAnonymous(c.User()) }

type startVisitRequest struct {
	App            string            `json:"app"`
	DeviceID       string            `json:"deviceId"`
	Name           string            `json:"name"`
	Email          string            `json:"email"`
	ProfessionalID string            `json:"professionalId"`
	Metadata       map[string]string `json:"metadata"`
}

type visitorJSON struct {
	ID             string            `json:"id"`
	ProfessionalID string            `json:"professionalId"`
	ConversationID string            `json:"conversationId"`
	Name           string            `json:"name,omitempty"`
	Email          string            `json:"email,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// startVisit answers POST /anonymous, without a token: a visitor of an
// application with anonymous chat on starts (or, from the same device,
// finds again) its one_to_one with a professional, and gets a token.
func (a *API) startVisit(w http.ResponseWriter, r *http.Request) {
	var req startVisitRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	app := a.Apps[req.App]
	switch {
	case req.App == "":
		httpx.WriteError(w, r, badRequest("app: required"))
		return
	case app == nil:
		httpx.WriteError(w, r, httpx.Errorf(http.StatusNotFound, "not_found", "app: no application %q", cut(req.App)))
		return
	case !app.AnonymousChat:
		httpx.WriteError(w, r, httpx.Errorf(http.StatusForbidden, "forbidden", "anonymous chat is off for %s", app.Name))
		return
	}
	if ok, wait := a.Anonymous.Addresses.Allow(app.Name, clientAddr(r)); !ok {
		rateLimited.WithLabelValues("anonymous_address").Inc()
		tooMany(w, r, wait, "too many visits started from this address")
		return
	}
	if err := checkVisit(&req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if ok, wait := a.Anonymous.Devices.Allow(app.Name, req.DeviceID); !ok {
		rateLimited.WithLabelValues("anonymous_device").Inc()
		tooMany(w, r, wait, "too many visits started from this device")
		return
	}
	anon := events.AnonymousID(app.Name, req.DeviceID, req.ProfessionalID)
	conv := events.VisitorConversationID(app.Name, anon)
	actor := events.Actor{ID: anon, Type: events.ActorAnonymous}
	now := a.Now()
	found := false
	out, err := a.Decide.Decide(r.Context(), app.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		var err error
		if found, err = decide.StartVisit(s, anon); found || err != nil {
			return nil, err
		}
		created, err := events.New("conv-"+conv, app.Name, now, actor, &events.ConversationCreated{
			ConversationID: conv, Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll, CreatedBy: anon,
			Members: []events.Member{{UserID: anon, Role: events.RoleMember}, {UserID: req.ProfessionalID, Role: events.RoleAdmin}}})
		if err != nil {
			return nil, err
		}
		visit, err := events.New(events.VisitorEventID(app.Name, anon), app.Name, now, actor, &events.AnonymousUserCreated{
			ConversationID: conv, AnonymousID: anon, ProfessionalID: req.ProfessionalID,
			Name: req.Name, Email: req.Email, Metadata: req.Metadata})
		if err != nil {
			return nil, err
		}
		return []*events.Envelope{created, visit}, nil
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(invalidAsRefusal(err)))
		return
	}
	token, err := auth.Mint(a.Secret, app.Name, anon, RoleAnonymous, "", req.Name, app.AnonymousTokenTTL(), now)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v := visitorJSON{ID: anon, ProfessionalID: req.ProfessionalID, ConversationID: conv}
	if !found { // a visitor found again keeps what it said the first time (in the log)
		v.Name, v.Email, v.Metadata = req.Name, req.Email, req.Metadata
	}
	body := map[string]any{"token": token, "anonymousUser": v}
	seq := out.Pos
	if len(out.Appended) > 0 {
		seq = out.Appended[len(out.Appended)-1].Seq
	}
	wctx, cancel := context.WithTimeout(r.Context(), a.WriteWait)
	defer cancel()
	if !a.Projected(wctx, seq) {
		body["conversation"], body["seq"], body["status"] = map[string]string{"id": conv}, seq, "accepted"
		httpx.WriteJSON(w, http.StatusAccepted, body)
		return
	}
	c, p, err := a.Store.Member(r.Context(), app.Name, conv, anon)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	body["conversation"] = queries.Summary(c, p, 0, nil)
	status := http.StatusCreated
	if found {
		status = http.StatusOK
	}
	httpx.WriteJSON(w, status, body)
}

// checkVisit bounds what a visitor sends: 400 for what is malformed, 413
// for what is too long.
func checkVisit(req *startVisitRequest) error {
	if n := len(req.DeviceID); n < minDeviceID || n > maxDeviceID || strings.IndexFunc(req.DeviceID, notDeviceRune) >= 0 {
		return badRequest("deviceId: %d to %d characters of A-Z a-z 0-9 _ - . : (a random UUID)", minDeviceID, maxDeviceID)
	}
	if !events.ValidID(req.ProfessionalID) || events.IsAnonymous(req.ProfessionalID) {
		return badRequest("professionalId: a user id matching ^[A-Za-z0-9_-]{1,64}$, not an anonymous one")
	}
	if len(req.Name) > maxVisitorName {
		return tooLarge("name: at most %d bytes", maxVisitorName)
	}
	if len(req.Email) > maxVisitorEmail {
		return tooLarge("email: at most %d bytes", maxVisitorEmail)
	}
	if req.Email != "" && !plausibleEmail(req.Email) {
		return badRequest("email: not an address of the form name@domain")
	}
	if len(req.Metadata) > maxMetadataKeys {
		return tooLarge("metadata: at most %d keys", maxMetadataKeys)
	}
	for k, v := range req.Metadata {
		if k == "" || len(k) > maxMetadataKey {
			return tooLarge("metadata: keys of 1 to %d bytes", maxMetadataKey)
		}
		if len(v) > maxMetadataValue {
			return tooLarge("metadata.%s: at most %d bytes", cut(k), maxMetadataValue)
		}
	}
	return nil
}

func notDeviceRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.:", r))
}

// plausibleEmail accepts one @ between non-empty parts, no space or
// control character: enough to catch mistakes, not a validation of RFC 5322.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@") && utf8.ValidString(s) &&
		strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) < 0
}

func tooLarge(format string, args ...any) error {
	return httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large", format, args...)
}

// cut shortens a value echoed in an error message.
func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// invalidAsRefusal turns a payload the catalogue refuses (a NUL in a name)
// into the request's invalid_payload.
func invalidAsRefusal(err error) error {
	var invalid *events.InvalidError
	if errors.As(err, &invalid) {
		return &decide.Refusal{Code: decide.CodeInvalidPayload, Message: invalid.Err.Error()}
	}
	return err
}

type convertRequest struct {
	UserID string `json:"userId"`
}

// convertVisitor answers POST /anonymous/{id}/convert: the conversation's
// professional or a service makes the visitor a known client. It answers
// once the visitor's token is refused here.
func (a *API) convertVisitor(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req convertRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	anon := r.PathValue("id")
	if !events.ValidID(req.UserID) || events.IsAnonymous(req.UserID) {
		httpx.WriteError(w, r, badRequest("userId: a known user's id matching ^[A-Za-z0-9_-]{1,64}$, not an anonymous one"))
		return
	}
	if !events.IsAnonymous(anon) {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusNotFound, "not_found", "no such visitor"))
		return
	}
	conv := events.VisitorConversationID(caller.App.Name, anon)
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		p, err := decide.Convert(s, caller.User(), caller.IsService(), anon, req.UserID)
		if p == nil || err != nil {
			return nil, err
		}
		e, err := a.event(caller, events.ConversionID(caller.App.Name, anon), p)
		if err != nil {
			return nil, err
		}
		return []*events.Envelope{e}, nil
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if a.Revoked != nil && len(out.Appended) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), a.WriteWait)
		defer cancel()
		if !a.Revoked.Wait(ctx, caller.App.Name, anon) {
			accepted(w, out.Appended[0].Seq, "") // in the log; the token goes as this chatd reads it
			return
		}
	}
	if !a.projected(w, r, out) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"anonymousId": anon, "userId": req.UserID, "conversationId": conv})
}

type transferRequest struct {
	ToUserID string `json:"toUserId"`
}

// transfer answers POST /conversations/{id}/transfer: a visitor's (or
// client's) conversation moves to another professional, who joins as its
// admin; the previous professional leaves it at that position.
func (a *API) transfer(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req transferRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if !events.ValidID(req.ToUserID) || events.IsAnonymous(req.ToUserID) {
		httpx.WriteError(w, r, badRequest("toUserId: a professional's id matching ^[A-Za-z0-9_-]{1,64}$, not an anonymous one"))
		return
	}
	conv := r.PathValue("id")
	privileged := caller.IsService() || caller.App.IsAdminRole(caller.Role)
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		ps, err := decide.Transfer(s, caller.User(), privileged, req.ToUserID)
		if err != nil {
			return nil, err
		}
		return a.newEvents(caller, ps)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	ps, err := a.Store.Participants(r.Context(), db.Conversation{App: caller.App.Name, ID: conv})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"conversationId": conv, "professionalId": req.ToUserID, "participants": ps})
}
