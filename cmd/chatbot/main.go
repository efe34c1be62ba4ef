// Command chatbot is an example internal service: a participant that
// answers the messages of the conversations it is added to, using only the
// NATS subjects of PROTOCOL §4 with a service account's credentials
// (`chatctl service --app A --name N` prints its URL).
//
//	chatbot --nats-url nats://svc_support-bot_geosector:…@127.0.0.1:4222 \
//	        --app geosector --service support-bot --user support-bot
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/events"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr, os.Getenv))
}

func run(args []string, stderr io.Writer, getenv func(string) string) int {
	fl := flag.NewFlagSet("chatbot", flag.ContinueOnError)
	fl.SetOutput(stderr)
	url := fl.String("nats-url", getenv("CHATBOT_NATS_URL"), "the service account's NATS URL, as chatctl service prints it (CHATBOT_NATS_URL)")
	app := fl.String("app", "", "the application")
	service := fl.String("service", "", "the service account's name")
	user := fl.String("user", "", "the participant the bot posts as (default: the service's name)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *user == "" {
		*user = *service
	}
	switch {
	case *url == "" || *app == "" || *service == "":
		fmt.Fprintln(stderr, "chatbot: --nats-url, --app and --service are required")
		return 2
	case !events.ValidID(*app) || !events.ValidID(*user):
		fmt.Fprintln(stderr, "chatbot: --app and --user must match ^[A-Za-z0-9_-]{1,64}$")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	bot := &Bot{App: *app, Service: *service, User: *user, Log: log}
	nc, err := nats.Connect(*url, nats.Name("chatbot"), nats.CustomInboxPrefix("_INBOX_"+bot.Durable()), nats.MaxReconnects(-1))
	if err != nil {
		fmt.Fprintln(stderr, "chatbot:", err)
		return 1
	}
	defer nc.Close()
	bot.NC = nc
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("chatbot answering", "app", *app, "as", *user)
	if err := bot.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "chatbot:", err)
		return 1
	}
	return 0
}
