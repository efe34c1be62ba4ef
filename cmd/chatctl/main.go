// Command chatctl is the operator's tool: tokens for development, and (as they
// land) replay, backfill, tail and stream information.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chatbackend/chat/services/auth"
)

const usage = `usage: chatctl <command> [flags]

commands:
  token     print a signed JWT for a user (same configuration as chatd)
  replay    rebuild the read model from the log into a fresh schema, verify, swap
  backfill  import existing history from a JSON Lines file into the log
  service   give an internal service its NATS account and print its URL

Run "chatctl <command> -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "token":
		err = token(args[1:], stdout, stderr, getenv)
	case "replay":
		err = replay(args[1:], stdout, stderr, getenv)
	case "backfill":
		err = backfillCmd(args[1:], stdout, stderr, getenv)
	case "service":
		err = serviceCmd(args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "chatctl:", err)
		return 2
	}
	return 0
}

// token mints a token. Its own flags come first; the rest are chatd's
// configuration flags (data dir, secret, config file).
func token(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fl := flag.NewFlagSet("chatctl token", flag.ContinueOnError)
	fl.SetOutput(stderr)
	app := fl.String("app", "", "application id (required)")
	user := fl.String("user", "", "user id, the token's sub (required)")
	role := fl.String("role", "member", "role claim: member, admin, super_admin, service, …")
	entity := fl.String("entity", "", "entity (organisation) claim")
	name := fl.String("name", "", "display name claim")
	ttl := fl.Duration("ttl", 24*time.Hour, "validity")
	cf := configFlags(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fl.Arg(0))
	}
	if *app == "" || *user == "" {
		return errors.New("token: --app and --user are required")
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	if cfg.Apps[*app] == nil {
		return fmt.Errorf("token: unknown application %q", *app)
	}
	if *ttl <= 0 {
		return errors.New("token: --ttl must be positive")
	}
	tok, err := auth.Mint(cfg.JWTSecret, *app, *user, *role, *entity, *name, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
