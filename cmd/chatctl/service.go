package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/natsauth"
)

// serviceCmd gives an internal service its NATS account (PROTOCOL §4): an
// event in the log, so every chatd knows it, then the URL with credentials
// as the last line of the output.
func serviceCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fl := flag.NewFlagSet("chatctl service", flag.ContinueOnError)
	fl.SetOutput(stderr)
	app := fl.String("app", "", "application id (required)")
	name := fl.String("name", "", "service name, e.g. support-bot: 1 to 32 of a-z, 0-9, - (required)")
	wait := fl.Duration("wait", 10*time.Second, "embedded NATS: how long to wait for chatd to accept the account")
	cf := configFlags(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("service: unexpected argument %q", fl.Arg(0))
	}
	if *app == "" || *name == "" {
		return errors.New("service: --app and --name are required")
	}
	svc := natsauth.Service{App: *app, Name: *name}
	if err := svc.Validate(); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	if cfg.Apps[*app] == nil {
		return fmt.Errorf("service: unknown application %q", *app)
	}
	secret, err := cfg.NATSSecret()
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
	known, _, err := natsauth.Load(ctx, js)
	if err != nil {
		return err
	}
	if slices.Contains(known, svc) {
		fmt.Fprintf(stdout, "service account %s exists\n", svc.User())
	} else {
		e, err := events.New(events.ServiceAccountID(svc.App, svc.Name), svc.App, time.Now(),
			events.Actor{ID: "chatctl", Type: events.ActorSystem}, &events.ServiceAccountCreated{Name: svc.Name})
		if err != nil {
			return err
		}
		if _, err := jet.NewAppender(js).Append(ctx, e); err != nil {
			return fmt.Errorf("service: %w", err)
		}
		fmt.Fprintf(stdout, "service account %s created\n", svc.User())
	}
	url, err := serviceURL(cfg, svc.User(), svc.Password(secret))
	if err != nil {
		return err
	}
	if cfg.EmbeddedNATS() {
		if err := awaitAccount(ctx, url, *wait); err != nil {
			fmt.Fprintf(stderr, "warning: chatd's NATS does not accept the account yet (is chatd running?): %v\n", err)
		}
	} else {
		entry, err := natsauth.ConfigEntry(svc, svc.Password(secret))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "chatd cannot add users to an external NATS server: add this user to the users of its authorization block (see deploy/nats/single.conf) and reload it (nats-server --signal reload):\n%s", entry)
	}
	fmt.Fprintf(stdout, "durable consumer %s on %s, filter %s.%s.>; inbox prefix %s\n",
		svc.Durable(), events.Stream, events.SubjectRoot, svc.App, svc.InboxPrefix())
	fmt.Fprintln(stdout, url)
	return nil
}

// serviceURL is where the service connects: chatd's NATS, with its credentials.
func serviceURL(cfg *config.Config, user, password string) (string, error) {
	u := &neturl.URL{Scheme: "nats", Host: cfg.NATSAddr}
	if !cfg.EmbeddedNATS() {
		first, _, _ := strings.Cut(cfg.NATSURL, ",") // a cluster's list: any of its servers will do
		ext, err := neturl.Parse(strings.TrimSpace(first))
		if err != nil {
			return "", fmt.Errorf("nats-url: %w", err)
		}
		u.Scheme, u.Host = ext.Scheme, ext.Host
	}
	if host, port, err := net.SplitHostPort(u.Host); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		u.Host = net.JoinHostPort("127.0.0.1", port)
	}
	u.User = neturl.UserPassword(user, password)
	return u.String(), nil
}

// awaitAccount waits until chatd has loaded the account from the log, so
// the URL printed next works at once.
func awaitAccount(ctx context.Context, url string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		nc, err := nats.Connect(url, nats.Name("chatctl"), nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}
