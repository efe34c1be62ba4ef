package jet

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
)

// Durable consumer names. A durable's name is its position in the log:
// renaming one starts it again from the beginning, so these never change.
const (
	// ConsumerModeration decides every MessagePosted.
	ConsumerModeration = "moderation"
	// ConsumerFanout delivers events to users' MQTT topics.
	ConsumerFanout = "fanout"
)

// DefaultDuplicateWindow is how long the log remembers event ids by
// default. It covers the retries of the log's writers (an append timing out,
// a client's QoS 1 resend on reconnecting, a restarted moderation), which
// come within seconds; consumers deduplicate by event id beyond it. The
// server keeps each id in memory for the whole window, about 125 bytes and
// three objects its collector marks: at 10,000 events/s, two minutes held
// 1.2 million of them, and chatd's collections marked them all.
const DefaultDuplicateWindow = 30 * time.Second

// StreamOptions tune the declared streams.
type StreamOptions struct {
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values
	// (0: DefaultDuplicateWindow). Consumers deduplicate by event id beyond
	// it.
	DuplicateWindow time.Duration
	Replicas        int
}

// EventStreamConfig is the declared configuration of the event log. Limits
// retention with no limits: the log is kept, so every read model can be rebuilt.
func EventStreamConfig(o StreamOptions) jetstream.StreamConfig {
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	return jetstream.StreamConfig{
		Name:        events.Stream,
		Description: "chat event log: the source of truth",
		Subjects:    []string{events.AllEvents},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  o.DuplicateWindow,
		Replicas:    o.Replicas,
		MaxMsgSize:  1 << 20,
		Discard:     jetstream.DiscardNew,
	}
}

// DeadLetterStreamConfig holds events consumers parked, with their reasons.
func DeadLetterStreamConfig(o StreamOptions) jetstream.StreamConfig {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	return jetstream.StreamConfig{
		Name:        events.DeadLetterStream,
		Description: "events a consumer could not process, with the reason",
		Subjects:    []string{events.DeadLetterSubject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      30 * 24 * time.Hour,
	}
}

// BackfillLedgerConfig is the key-value bucket where backfill records how
// much of each file (by content digest) it has imported.
func BackfillLedgerConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      "CHAT_BACKFILL",
		Description: "backfill progress by file digest",
		History:     1,
		Storage:     jetstream.FileStorage,
	}
}

// ClientsSeenConfig is the key-value bucket of the clients each user has
// connected from ({app}.{user}.{client hash}, and {app}.{user}.first once
// they connected at all), for the security alert on a new client: a fact
// about connections, which the event log does not record.
func ClientsSeenConfig(o StreamOptions) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      "CHAT_CLIENTS",
		Description: "clients each user connected from",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	}
}

// FilesBucket is the object store of uploaded files: beside the log, it
// replicates with the cluster and is backed up with it (DESIGN "Choices").
const FilesBucket = "CHAT_FILES"

// FilesBucketConfig is the declared configuration of the files' store.
// Objects are kept until chatd deletes them: an upload no message took up
// once it expires (events.FileExpired), never a file the log references.
func FilesBucketConfig(o StreamOptions) jetstream.ObjectStoreConfig {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	return jetstream.ObjectStoreConfig{
		Bucket:      FilesBucket,
		Description: "uploaded files, by application and file id",
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	}
}

// EnsureStreams creates the declared streams and the files' store, or
// updates them to the declared configuration.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	for _, cfg := range []jetstream.StreamConfig{EventStreamConfig(o), DeadLetterStreamConfig(o)} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("declare stream %s: %w", cfg.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateObjectStore(ctx, FilesBucketConfig(o)); err != nil {
		return fmt.Errorf("declare object store %s: %w", FilesBucket, err)
	}
	return nil
}
