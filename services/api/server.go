// Package api is the HTTP front of chatd: the command side of the REST API
// (writes append events, then wait for the read model), the read endpoints of
// package queries, health, readiness and metrics.
package api

import (
	"context"
	_ "embed"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/files"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/revoked"
	"github.com/chatbackend/chat/services/webhooks"
)

//go:embed openapi.json
var openAPI []byte

// Prefix is the REST API's path prefix.
const Prefix = "/api/chat"

// API serves HTTP.
type API struct {
	Apps   config.Apps
	Secret []byte
	Append *jet.Appender
	// Decide decides commands about a conversation at its position in the
	// log and appends their events on that condition.
	Decide *decide.Decider
	// Messages carries out edits and deletions.
	Messages *decide.Messages
	Store    queries.Store
	// Projected waits until the read model includes position seq, up to ctx.
	Projected func(ctx context.Context, seq uint64) bool
	// Position is the log position the read model has applied.
	Position func(ctx context.Context) (uint64, error)
	// Head is the position of the newest event in the log.
	Head func(ctx context.Context) (uint64, error)
	// Checks are the readiness checks by name.
	Checks map[string]func(context.Context) error
	// WriteWait bounds how long a write waits for the read model before
	// answering 202 with the event's position.
	WriteWait time.Duration
	Now       func() time.Time
	// Pprof mounts Go's profiler under /debug/pprof/.
	Pprof bool
	// Limits are the rate limits of writes and failed authentications.
	Limits Limits
	// JS reads documents the log holds whole (moderation rules).
	JS jetstream.JetStream
	// Webhooks reads and replaces applications' webhooks.
	Webhooks *webhooks.Admin
	// MetricsElsewhere leaves /metrics out of Handler: MetricsHandler serves
	// it on an address of its own.
	MetricsElsewhere bool

	// Groups decides commands about a group (team) at its position in the
	// log; Room the changes to a user's own room.
	Groups *decide.Groups
	Room   *decide.UserRoom
	// Directories decide announcements and directory writes at the
	// directory's position in the log.
	Directories *decide.Directories
	// Anonymous limits POST /anonymous; Revoked are the tokens that no
	// longer work (converted visitors).
	Anonymous AnonymousLimits
	Revoked   *revoked.Set
	// Files stores uploaded files' bytes.
	Files *files.Store
}

// Handler is the full HTTP surface.
func (a *API) Handler() http.Handler {
	if a.WriteWait == 0 {
		a.WriteWait = 5 * time.Second
	}
	if a.Now == nil {
		a.Now = time.Now
	}
	reads := queries.Handlers{Store: a.Store}
	// A user's endpoint: failed authentications and writes are rate-limited,
	// reads made consistent with what the caller has received, ids in the
	// path checked.
	user := func(h http.HandlerFunc) http.Handler {
		return a.Limits.limitAuthFailures(httpx.Authenticate(a.Secret, a.Apps,
			a.tokenScope(a.Limits.limitWrites(a.consistentReads(pathIDs(h))))))
	}
	api := http.NewServeMux()
	api.Handle("GET /conversations", user(reads.Conversations))
	api.Handle("POST /conversations", user(a.createConversation))
	api.Handle("GET /conversations/{id}", user(reads.Conversation))
	api.Handle("PUT /conversations/{id}", user(a.updateConversation))
	api.Handle("DELETE /conversations/{id}", user(a.closeConversation))
	api.Handle("PUT /conversations/{id}/pin", user(a.pinConversation))
	api.Handle("PUT /conversations/{id}/reply-permission", user(a.setReplyPermission))
	api.Handle("PUT /conversations/{id}/participants/{userId}", user(a.updateParticipant))
	api.Handle("GET /conversations/{id}/messages", user(reads.Messages))
	api.Handle("GET /conversations/{id}/participants", user(reads.Participants))
	api.Handle("POST /conversations/{id}/participants", user(a.addParticipants))
	api.Handle("DELETE /conversations/{id}/participants/{userId}", user(a.removeParticipant))
	api.Handle("PUT /messages/{id}", user(a.editMessage))
	api.Handle("DELETE /messages/{id}", user(a.deleteMessage))
	api.Handle("GET /messages/{id}/receipts", user(reads.MessageReceipts))
	api.Handle("GET /sync", user(a.sync))
	api.Handle("GET /webhooks", user(a.getWebhooks))
	api.Handle("PUT /webhooks", user(a.putWebhooks))
	api.Handle("GET /moderation/rules", user(a.getModerationRules))
	api.Handle("PUT /moderation/rules", user(a.putModerationRules))
	api.Handle("GET /moderation/queue", user(a.moderationQueue))
	api.Handle("POST /moderation/queue/{messageId}/approve", user(a.reviewMessage(true)))
	api.Handle("POST /moderation/queue/{messageId}/reject", user(a.reviewMessage(false)))
	api.Handle("POST /groups", user(a.createGroup))
	api.Handle("GET /groups", user(reads.Groups))
	api.Handle("GET /groups/{id}", user(reads.Group))
	api.Handle("PUT /groups/{id}", user(a.updateGroup))
	api.Handle("POST /groups/{id}/join-requests", user(a.requestToJoin))
	api.Handle("GET /groups/{id}/join-requests", user(reads.JoinRequests))
	api.Handle("DELETE /groups/{id}/join-requests/{userId}", user(a.refuseJoin))
	api.Handle("POST /groups/{id}/members", user(a.addGroupMember))
	api.Handle("DELETE /groups/{id}/members/{userId}", user(a.removeGroupMember))
	api.Handle("POST /groups/{id}/conversations/{conversationId}/join", user(a.joinGroupConversation))
	api.Handle("GET /users/me/settings", user(a.settings))
	api.Handle("PUT /users/me/settings", user(a.putSettings))
	api.Handle("GET /users/me/notifications", user(reads.Notifications))
	api.Handle("POST /users/me/notifications/read", user(a.markNotificationsRead))
	api.Handle("GET /announcements", user(reads.Announcements))
	api.Handle("POST /announcements", user(a.announce))
	api.Handle("GET /announcements/{id}/stats", user(reads.AnnouncementStats))
	api.Handle("GET /audience-targets", user(reads.AudienceTargets))
	api.Handle("PUT /directory/users/{id}", user(a.putDirectoryUser))
	api.Handle("POST /directory/users:batch", user(a.putDirectoryUsers))
	api.Handle("POST /anonymous", http.HandlerFunc(a.startVisit))
	api.Handle("POST /anonymous/{id}/convert", user(a.convertVisitor))
	api.Handle("POST /conversations/{id}/transfer", user(a.transfer))
	api.Handle("POST /files", user(a.uploadFile))
	api.Handle("GET /files/{id}", user(a.downloadFile))
	api.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		// The same for everyone, but new with each release: revalidate.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})

	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", http.StripPrefix(Prefix, httpx.Routed(api)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	if !a.MetricsElsewhere {
		mux.Handle("GET /metrics", promhttp.Handler())
	}
	if a.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// Every answer is about this moment (health, a user's data): never cached.
	return httpx.NoStore(httpx.Routed(mux))
}

// MetricsHandler serves /metrics alone, for its own address.
func MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	return httpx.NoStore(httpx.Routed(mux))
}

// pathIDs refuses ids in the path that could name nothing (PROTOCOL §1)
// before they reach a query: a NUL byte or a 10 KB segment is a 400, not a
// database error.
func pathIDs(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, name := range []string{"id", "userId", "messageId"} {
			if v := r.PathValue(name); v != "" && !events.ValidID(v) {
				httpx.WriteError(w, r, badRequest("%s in the path: must match ^[A-Za-z0-9_-]{1,64}$", name))
				return
			}
		}
		next(w, r)
	}
}

// ready answers 200 when every dependency answers, 503 naming those that do not.
func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, code := map[string]string{}, http.StatusOK
	for name, check := range a.Checks {
		if err := check(ctx); err != nil {
			status[name], code = err.Error(), http.StatusServiceUnavailable
		} else {
			status[name] = "ok"
		}
	}
	httpx.WriteJSON(w, code, status)
}
