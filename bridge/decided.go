package bridge

import (
	"context"
	"log/slog"
	"time"

	"github.com/chatbackend/chat/services/decide"
)

// decideTimeout bounds how long one edit or delete may take to decide and
// append before the client is asked to retry.
const decideTimeout = 10 * time.Second

// runDecided carries out an edit, a delete or a receipt at its
// conversation's position.
// It returns the command.rejected answer for a refusal, nothing when the
// command took effect (or had already), and an error when it could not be
// decided now (the log unreachable): the command must come again, which is
// safe as its event id derives from the client's id.
func runDecided(ctx context.Context, ms *decide.Messages, log *slog.Logger, cmd *Command) (*Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, decideTimeout)
	defer cancel()
	app, actor, clientMsgID, at := cmd.origin()
	var out decide.Outcome
	var err error
	switch {
	case cmd.Receipt != nil:
		out, err = ms.Receipt(ctx, *cmd.Receipt)
	case cmd.Action == "edit":
		out, err = ms.Edit(ctx, *cmd.Decided)
	default:
		out, err = ms.Delete(ctx, *cmd.Decided)
	}
	if err != nil {
		if rej := rejection(cmd.Action, clientMsgID, err); rej != nil {
			return rejected(log, cmd.prefix, app, actor, rej, at), nil
		}
		return nil, err
	}
	if len(out.Appended) == 0 {
		commandsTotal.WithLabelValues(cmd.Action, "duplicate").Inc()
	}
	for _, r := range out.Appended {
		countAppended(cmd.Action, r)
	}
	return nil, nil
}

// origin is who sent a decided command, when, and the client id its answer
// names (receipts have none).
func (cmd *Command) origin() (app, actor, clientMsgID string, at time.Time) {
	if r := cmd.Receipt; r != nil {
		return r.App, r.Actor.ID, "", r.At
	}
	c := cmd.Decided
	return c.App, c.Actor.ID, c.ClientMsgID, c.At
}
