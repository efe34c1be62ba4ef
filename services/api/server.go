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

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/jet"
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
	Store  queries.Store
	// Projected waits until the read model includes position seq, up to ctx.
	Projected func(ctx context.Context, seq uint64) bool
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
	api := http.NewServeMux()
	api.HandleFunc("GET /conversations", reads.Conversations)
	api.HandleFunc("POST /conversations", a.createConversation)
	api.HandleFunc("GET /conversations/{id}", reads.Conversation)
	api.HandleFunc("GET /conversations/{id}/messages", reads.Messages)
	api.HandleFunc("GET /conversations/{id}/participants", reads.Participants)
	api.HandleFunc("POST /conversations/{id}/participants", a.addParticipants)
	api.HandleFunc("DELETE /conversations/{id}/participants/{userId}", a.removeParticipant)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusNotFound, "not_found", "no endpoint %s %s", r.Method, r.URL.Path))
	})

	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", http.StripPrefix(Prefix,
		a.Limits.limitAuthFailures(httpx.Authenticate(a.Secret, a.Apps, a.Limits.limitWrites(api)))))
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", promhttp.Handler())
	if a.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
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
