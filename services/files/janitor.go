package files

import (
	"context"
	"log/slog"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

// Janitor removes the uploads no message took up within OrphanAfter. Each
// removal is decided at the position of the file's conversation and
// recorded (events.FileExpired) before the bytes go: a send carrying the
// file that reaches the log first keeps it, one that comes after is
// refused by moderation. A file referenced by the log is never removed.
type Janitor struct {
	Store       *Store
	Decider     *decide.Decider
	OrphanAfter time.Duration
	Now         func() time.Time
	Log         *slog.Logger
}

// Run sweeps every quarter of OrphanAfter (at most every 10 minutes) until
// ctx ends.
func (j *Janitor) Run(ctx context.Context) error {
	every := min(j.OrphanAfter/4, 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := j.Sweep(ctx); err != nil && ctx.Err() == nil {
			j.Log.Warn("file sweep", "err", err) // the next sweep tries again
		}
	}
}

// Sweep removes the orphan uploads stored before now - OrphanAfter.
func (j *Janitor) Sweep(ctx context.Context) error {
	cutoff := j.Now().Add(-j.OrphanAfter)
	objs, err := j.Store.List(ctx)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !o.StoredAt.Before(cutoff) || o.App == "" || o.ID == "" || !events.ValidID(o.ConversationID) {
			continue
		}
		if err := j.expire(ctx, o, cutoff); err != nil {
			return err
		}
	}
	return nil
}

func (j *Janitor) expire(ctx context.Context, o Object, cutoff time.Time) error {
	remove := false
	_, err := j.Decider.Decide(ctx, o.App, o.ConversationID, func(s *decide.State) ([]*events.Envelope, error) {
		f := s.File(o.ID)
		// Not in the log: an upload whose recording failed, never referenced.
		remove = f == nil || f.Expired
		p := decide.ExpireFile(s, o.ID, cutoff)
		if p == nil {
			return nil, nil
		}
		remove = true
		e, err := events.New(events.FileExpiredID(o.App, o.ID), o.App, j.Now(), events.Actor{ID: "files", Type: events.ActorSystem}, p)
		if err != nil {
			return nil, err
		}
		return []*events.Envelope{e}, nil
	})
	if err != nil || !remove {
		return err
	}
	j.Log.Info("orphan upload removed", "app", o.App, "file", o.ID, "conversation", o.ConversationID, "bytes", o.Size)
	return j.Store.Delete(ctx, o.App, o.ID)
}
