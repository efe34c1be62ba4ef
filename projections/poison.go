package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// refusedData reports whether PostgreSQL refused the data itself, an error
// no retry can cure: SQLSTATE classes 22 (data exception, such as a NUL in
// text), 23 (integrity constraint violation) and 54 (program limit
// exceeded). Everything else, a lost connection or a timeout, is transient.
func refusedData(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// panicked reports whether an event's effect panicked: the event is poison
// for the read model, like data PostgreSQL refuses.
func panicked(err error) bool {
	var pe *events.PanicError
	return errors.As(err, &pe)
}

// poison reports whether err condemns an event rather than the attempt.
func poison(err error) bool { return refusedData(err) || panicked(err) }

// applyOrPark applies a batch. When PostgreSQL refuses its data, or an
// event's effect panics, it applies the batch's events one by one, each in a
// transaction with its checkpoint, and parks those refused with the reason:
// the rest of the batch lands exactly once and the projector goes on (DESIGN
// invariants 3 and 8). Live projection and replays both come through here,
// so a replay parks the same events and rebuilds the same model.
func (p *Projector) applyOrPark(ctx context.Context, b jet.Batch, park *jet.Parker) error {
	err := p.Apply(ctx, b)
	if !poison(err) {
		return err
	}
	return p.applyEach(ctx, b, park, err)
}

// applyEach applies a batch the read model refused (why) event by event,
// parking the events refused.
func (p *Projector) applyEach(ctx context.Context, b jet.Batch, park *jet.Parker, why error) error {
	p.Log.Warn("the read model refuses an event of the batch; applying it event by event", "last", b.Last, "err", why)
	for _, e := range b.Events {
		err := p.Apply(ctx, jet.Batch{Events: []*events.Envelope{e}, Last: e.Seq})
		if poison(err) {
			if err := p.park(ctx, e, err, park); err != nil {
				return err
			}
			err = p.Apply(ctx, jet.Batch{Last: e.Seq}) // past it: the checkpoint alone
		}
		if err != nil {
			return err
		}
	}
	return p.Apply(ctx, jet.Batch{Last: b.Last})
}

// park sends an event the read model refuses to the dead-letter stream.
func (p *Projector) park(ctx context.Context, e *events.Envelope, why error, park *jet.Parker) error {
	subject, err := e.Subject()
	if err != nil {
		return fmt.Errorf("park event %d: %w", e.Seq, err)
	}
	data, err := e.Encode()
	if err != nil {
		return fmt.Errorf("park event %d: %w", e.Seq, err)
	}
	if panicked(why) {
		return park.Park(ctx, subject, e.Seq, data, why)
	}
	return park.Park(ctx, subject, e.Seq, data, fmt.Errorf("read model refuses it: %w", why))
}
