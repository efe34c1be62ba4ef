package main

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
)

// quiet brings the server to a known state before a measured run, so what
// one scenario left behind does not land in the next: the projector caught
// up with the log (nothing left to write), then PostgreSQL's dirty pages
// written out (CHECKPOINT) and the chat tables' statistics and visibility
// maps brought up to date (VACUUM ANALYZE), so neither a checkpoint nor
// autovacuum starts in the middle of the run.
func (b *bench) quiet() {
	deadline := time.Now().Add(60 * time.Second)
	for {
		lag, err := b.projectorLag()
		if err != nil {
			b.logf("  quiet: projector lag: %v", err)
			break
		}
		if lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.logf("  quiet: the projector is still %d events behind after 60s", lag)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if b.db == nil {
		conn, err := pgx.Connect(ctx, b.srv.dbURL)
		if err != nil {
			b.logf("  quiet: %v", err)
			return
		}
		b.db = conn
	}
	for _, stmt := range []string{"CHECKPOINT", "VACUUM ANALYZE"} {
		if _, err := b.db.Exec(ctx, stmt); err != nil {
			if b.quietRefused[stmt] == nil {
				b.logf("  quiet: %s: %v (the benchmark goes on without it)", stmt, err)
				b.quietRefused[stmt] = err
			}
		}
	}
}

// projectorLag reads chat_projector_lag_events: events in the log past the
// projector's position. The gauge is sampled every few seconds and by each
// readiness check: asking /readyz first makes the reading current.
func (b *bench) projectorLag() (int64, error) {
	if resp, err := http.Get("http://" + b.srv.httpAddr + "/readyz"); err == nil {
		resp.Body.Close()
	}
	v, err := b.metricValue("chat_projector_lag_events")
	return int64(v), err
}
