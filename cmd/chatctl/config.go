package main

import (
	"context"
	"flag"
	"fmt"
	neturl "net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/natsauth"
)

// sharedFlags are chatd's configuration flags that chatctl commands accept
// too, so an operator points both at the same servers and keys.
var sharedFlags = []struct{ name, help string }{
	{"data-dir", "as chatd's --data-dir (CHAT_DATA_DIR)"},
	{"jwt-secret", "as chatd's --jwt-secret (CHAT_JWT_SECRET)"},
	{"config", "as chatd's --config (CHAT_CONFIG)"},
	{"nats-url", "as chatd's --nats-url: an external NATS, credentials in the URL; default the embedded server of a local chatd (CHAT_NATS_URL)"},
	{"nats-addr", "as chatd's --nats-addr: where its embedded NATS listens (CHAT_NATS_ADDR)"},
	{"database-url", "as chatd's --database-url (DATABASE_URL)"},
	{"db-schema", "the live read model's schema (CHAT_DB_SCHEMA)"},
}

type cfgFlags map[string]*string

func configFlags(fl *flag.FlagSet) cfgFlags {
	cf := cfgFlags{}
	for _, f := range sharedFlags {
		cf[f.name] = fl.String(f.name, "", f.help)
	}
	return cf
}

func (cf cfgFlags) load(getenv func(string) string) (*config.Config, error) {
	var args []string
	for name, v := range cf {
		if *v != "" {
			args = append(args, "--"+name+"="+*v)
		}
	}
	return config.Load("chatctl", args, getenv)
}

// connect reaches the NATS server chatd uses, as chatd: with the password
// generated into the data directory for the embedded server, or the
// credentials in the URL of an external one.
func connect(cfg *config.Config) (*nats.Conn, jetstream.JetStream, error) {
	url := cfg.NATSURL
	opts := []nats.Option{nats.Name("chatctl")}
	if cfg.EmbeddedNATS() {
		url = "nats://" + cfg.NATSAddr
		secret, err := cfg.NATSSecret()
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, nats.UserInfo(natsauth.ChatdUser, secret))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w", redacted(url), err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// redacted hides a URL's password in messages.
func redacted(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// interruptible is cancelled by Ctrl-C or SIGTERM, so long runs stop cleanly
// at a resumable point.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
