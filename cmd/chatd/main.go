// Command chatd runs the chat backend: by default every role in one process
// (embedded NATS JetStream and MQTT broker, bridge, moderation, projector,
// fan-out, HTTP API). Flags and CHAT_* variables select roles and peers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon"
	"github.com/chatbackend/chat/services/natsauth"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := config.Load("chatd", os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatd:", err)
		os.Exit(2)
	}
	log.Info("garbage collector", "settings", config.TuneCollector(cfg.MemoryLimit, os.Getenv).String())
	if err := registerGoMetrics(prometheus.DefaultRegisterer); err != nil {
		log.Warn("the garbage collector's CPU is not exported", "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := daemon.Start(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatd:", err)
		os.Exit(1)
	}
	banner(d, cfg)
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-d.Failed():
		log.Error("role failed, shutting down", "err", err)
	}
	d.Stop()
	if err != nil {
		os.Exit(1)
	}
}

// reachable shows a listen address as one to connect to: a wildcard host
// becomes localhost.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func banner(d *daemon.Daemon, cfg *config.Config) {
	fmt.Printf("chatd is running (roles: %v)\n", cfg.Roles)
	if a := d.HTTPAddr(); a != "" {
		fmt.Printf("  REST API      http://%s/api/chat  (OpenAPI: /api/chat/openapi.json; /healthz /readyz /metrics)\n", reachable(a))
	}
	if a := d.MQTTAddr(); a != "" {
		fmt.Printf("  MQTT          tcp://%s\n", reachable(a))
	}
	if a := d.MQTTWSAddr(); a != "" {
		fmt.Printf("  MQTT over WS  ws://%s/mqtt\n", reachable(a))
	}
	if cfg.MQTTURL != "" {
		fmt.Printf("  MQTT broker   %s (external)\n", cfg.MQTTURL)
	}
	if cfg.EmbeddedNATS() {
		fmt.Printf("  NATS          %s  (user %s, password in %s)\n", d.NATSURL(), natsauth.ChatdUser, filepath.Join(cfg.DataDir, "nats.secret"))
	} else {
		fmt.Printf("  NATS          %s\n", d.NATSURL())
	}
	fmt.Printf("  PostgreSQL    schema %q\n", cfg.DBSchema)
	for name, a := range cfg.Apps {
		fmt.Printf("  app %-10s topics %s/cmd/{user}/{action} -> %s/user/{user}/#\n", name, a.TopicPrefix, a.TopicPrefix)
	}
	fmt.Println("Mint a token (MQTT username = user id, password = token; REST: Authorization: Bearer <token>):")
	fmt.Println("  go run ./cmd/chatctl token --app geosector --user alice --role member")
	fmt.Println("Give an internal service its NATS account: go run ./cmd/chatctl service --app geosector --name bot")
}
