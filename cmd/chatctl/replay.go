package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/chatbackend/chat/projections"
	"github.com/chatbackend/chat/services/config"
)

func replay(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fl := flag.NewFlagSet("chatctl replay", flag.ContinueOnError)
	fl.SetOutput(stderr)
	until := fl.Uint64("until-seq", 0, "build the model as of this log position into its own schema, leaving the live one alone")
	target := fl.String("schema", "", "schema to build (default <live>_rebuild, or <live>_at_<N> with --until-seq)")
	verify := fl.Bool("verify", false, "compare table digests of the live and rebuilt models, table by table")
	noSwap := fl.Bool("no-swap", false, "build (and verify) but leave the live model in place")
	dropOld := fl.Bool("drop-old", false, "after the swap, drop the previous live schema")
	fresh := fl.Bool("fresh", false, "discard an unfinished rebuild instead of resuming it")
	batch := fl.Int("batch", projections.DefaultReplayBatch, "events per transaction")
	cf := configFlags(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("replay: unexpected argument %q", fl.Arg(0))
	}
	if *batch < 1 || *batch > 100000 {
		return errors.New("replay: --batch must be between 1 and 100000")
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	nc, js, err := connect(cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, stop := interruptible()
	defer stop()
	r := &projections.Replay{
		DatabaseURL: cfg.DatabaseURL, JS: js, Log: slog.New(slog.NewTextHandler(stderr, nil)),
		Live: cfg.DBSchema, Target: *target, Until: *until, Fresh: *fresh,
		Swap: *until == 0 && !*noSwap, DropOld: *dropOld, Verify: *verify, Batch: *batch, Progress: stderr,
		Apps: cfg.Apps,
	}
	defer config.CollectLess(getenv)() // as chatd
	sum, err := r.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("replay interrupted at position %d of schema %s; run the same command again to resume", sum.Position, sum.Target)
	}
	if err != nil {
		return err
	}
	rate := float64(sum.Applied) / max(sum.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stdout, "replay: schema %s at position %d: %d events applied in %v (%.0f events/s)\n",
		sum.Target, sum.Position, sum.Applied, sum.Elapsed.Round(1e6), rate)
	if r.Verify {
		fmt.Fprintf(stdout, "live %s:\n%srebuilt %s:\n%s", r.Live, projections.FormatDigest(sum.LiveDigest), sum.Target, projections.FormatDigest(sum.RebuiltDigest))
		if len(sum.Differences) > 0 {
			for _, d := range sum.Differences {
				fmt.Fprintln(stdout, "DIFFERS", d)
			}
			return fmt.Errorf("replay: %d tables differ; the live model was left in place", len(sum.Differences))
		}
		fmt.Fprintln(stdout, "verify: every table is equal")
	}
	if sum.SwappedOut != "" {
		fmt.Fprintf(stdout, "swapped: %s is live; the previous model is %s", r.Live, sum.SwappedOut)
		if r.DropOld {
			fmt.Fprint(stdout, " (dropped)")
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
