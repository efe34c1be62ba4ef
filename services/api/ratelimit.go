package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/ratelimit"
)

var rateLimited = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chat_rest_rate_limited_total",
	Help: "REST requests answered 429, by what was limited (writes of a user, failed authentications of an address).",
}, []string{"limit"})

// Limits are the REST API's token buckets.
type Limits struct {
	// Writes bounds each user's POST, PUT, PATCH and DELETE, per application.
	Writes ratelimit.ByApp
	// AuthFailures bounds failed authentications per client address: once
	// its bucket is empty, the address gets 429 before its token is looked at.
	AuthFailures *ratelimit.Limiter
}

// limitAuthFailures wraps authentication: an address that failed too often
// is refused at once, and every 401 costs its address a token.
func (l Limits) limitAuthFailures(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		if blocked, wait := l.AuthFailures.Blocked(addr); blocked {
			rateLimited.WithLabelValues("auth_failures").Inc()
			slog.Warn("security: rest client refused after repeated authentication failures", "remote", addr)
			tooMany(w, r, wait, "too many failed authentications from this address")
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized {
			l.AuthFailures.Charge(addr)
		}
	})
}

// limitWrites refuses a user's writes past their application's rate. It runs
// after authentication; service tokens are not limited.
func (l Limits) limitWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		caller := httpx.CallerOf(r)
		if !caller.IsService() {
			if ok, wait := l.Writes.Allow(caller.App.Name, caller.User()); !ok {
				rateLimited.WithLabelValues("writes").Inc()
				tooMany(w, r, wait, "too many writes: retry later")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
	httpx.WriteError(w, r, httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "%s", msg))
}

// clientAddr is the TCP peer's address without its port: the limit applies
// to what connects to chatd (behind a proxy, the proxy).
func clientAddr(r *http.Request) string { return ratelimit.AddrKey(r.RemoteAddr) }

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
