package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/chatbackend/chat/services/backfill"
)

func backfillCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fl := flag.NewFlagSet("chatctl backfill", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: chatctl backfill [flags] FILE.jsonl  (format: see README, Backfill)")
		fl.PrintDefaults()
	}
	dryRun := fl.Bool("dry-run", false, "validate and report what would be imported; append nothing")
	skipInvalid := fl.Bool("skip-invalid", false, "import the valid lines and list the invalid ones (default: a bad line stops the import before anything is appended)")
	chunk := fl.Int("chunk", 500, "lines per append round")
	cf := configFlags(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return errors.New("backfill: one FILE argument is required")
	}
	if *chunk < 1 || *chunk > 50000 {
		return errors.New("backfill: --chunk must be between 1 and 50000")
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	in, err := os.Open(fl.Arg(0))
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	defer in.Close()
	f, err := backfill.Parse(in, cfg.Apps, time.Now())
	if err != nil {
		return fmt.Errorf("backfill %s: %w", fl.Arg(0), err)
	}
	for _, e := range f.Invalid {
		fmt.Fprintln(stderr, "invalid:", e)
	}
	counts := f.Counts()
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	var summary string
	events := 0
	for _, it := range f.Items {
		events += len(it.Events)
	}
	for _, t := range types {
		summary += fmt.Sprintf(" %d %s,", counts[t], t)
	}
	if len(f.Invalid) > 0 && !*skipInvalid {
		return fmt.Errorf("backfill: %d invalid lines of %d; nothing appended (fix them, or pass --skip-invalid to import the rest)", len(f.Invalid), f.Lines)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: would import %d lines (%s %d events); %d invalid lines skipped\n",
			len(f.Items), summary, events, len(f.Invalid))
		return nil
	}
	nc, js, err := connect(cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, stop := interruptible()
	defer stop()
	im := &backfill.Importer{JS: js, Progress: stderr, Chunk: *chunk}
	res, err := im.Import(ctx, f)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("backfill interrupted after %d events; run the same command again to resume", res.Appended)
	}
	if err != nil {
		return err
	}
	if res.AlreadyDone {
		fmt.Fprintf(stdout, "backfill: %s was imported before (%d lines); nothing appended\n", fl.Arg(0), res.Items)
		return nil
	}
	fmt.Fprintf(stdout, "backfill: imported %d lines (%s %d events appended", res.Items-res.Resumed, summary, res.Appended)
	if res.Resumed > 0 {
		fmt.Fprintf(stdout, ", resumed after %d lines done before", res.Resumed)
	}
	fmt.Fprintf(stdout, "); %d invalid lines skipped\n", len(f.Invalid))
	return nil
}
