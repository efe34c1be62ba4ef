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

// runDecided carries out an edit or a delete at its conversation's position.
// It returns the command.rejected answer for a refusal, nothing when the
// command took effect (or had already), and an error when it could not be
// decided now (the log unreachable): the command must come again, which is
// safe as its event id derives from the client's id.
func runDecided(ctx context.Context, ms *decide.Messages, log *slog.Logger, cmd *Command) (*Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, decideTimeout)
	defer cancel()
	c := *cmd.Decided
	var out decide.Outcome
	var err error
	if cmd.Action == "edit" {
		out, err = ms.Edit(ctx, c)
	} else {
		out, err = ms.Delete(ctx, c)
	}
	if err != nil {
		if rej := rejection(cmd.Action, c.ClientMsgID, err); rej != nil {
			return rejected(log, cmd.prefix, c.App, c.Actor.ID, rej, c.At), nil
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
