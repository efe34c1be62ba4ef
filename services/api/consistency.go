package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/services/httpx"
)

// SeqHeader names the log position a read answer reflects (PROTOCOL §3).
const SeqHeader = "Chat-Seq"

var readsLagging = promauto.NewCounter(prometheus.CounterOpts{
	Name: "chat_rest_reads_lagging_total",
	Help: "REST reads answered 503 lagging: the read model did not reach the asked minSeq within the write wait.",
})

// consistentReads makes every GET consistent with what the caller has
// already received (PROTOCOL §3). A minSeq waits, bounded by WriteWait, until
// the read model has applied that position; a position past the log's head
// can never be reached and is refused at once. Every answer that gets this far
// (the read's errors included) carries Chat-Seq, the read model's position
// taken before the handler runs, so the answer reflects at least that
// position. Other methods pass through untouched.
func (a *API) consistentReads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		pos, err := a.Position(r.Context())
		if err != nil {
			httpx.WriteError(w, r, fmt.Errorf("read model position: %w", err))
			return
		}
		want, err := minSeq(r)
		if err == nil && want > pos {
			pos, err = a.awaitPosition(r.Context(), pos, want)
		}
		w.Header().Set(SeqHeader, strconv.FormatUint(pos, 10))
		if err != nil {
			if errors.Is(err, errLagging) {
				// Nothing tells how long the projector will take; the next
				// attempt waits again, up to the bound.
				w.Header().Set("Retry-After", "1")
			}
			httpx.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errLagging answers a read whose minSeq the read model did not reach within
// the bound: the client retries after Retry-After.
var errLagging = httpx.Errorf(http.StatusServiceUnavailable, "lagging", "the read model has not reached minSeq yet: retry later")

// awaitPosition waits until the read model, now at pos, has applied want and
// returns its position then, or the position with errLagging when want was
// not reached within the bound. A want past the log's head can never be
// reached: a 400 at once.
func (a *API) awaitPosition(ctx context.Context, pos, want uint64) (uint64, error) {
	head, err := a.Head(ctx)
	if err != nil {
		return pos, fmt.Errorf("log head: %w", err)
	}
	if want > head {
		return pos, badRequest("minSeq %d is past the log's last position %d", want, head)
	}
	wctx, cancel := context.WithTimeout(ctx, a.WriteWait)
	reached := a.Projected(wctx, want)
	cancel()
	if now, err := a.Position(ctx); err == nil {
		pos = max(pos, now)
	}
	if !reached {
		readsLagging.Inc()
		return pos, errLagging
	}
	return max(pos, want), nil
}

// minSeq is the request's minSeq, 0 when it has none.
func minSeq(r *http.Request) (uint64, error) {
	q := r.URL.Query()
	if !q.Has("minSeq") {
		return 0, nil
	}
	v, err := strconv.ParseUint(q.Get("minSeq"), 10, 64)
	if err != nil || v == 0 {
		return 0, badRequest("minSeq must be a positive integer: the seq of an event already received")
	}
	return v, nil
}
