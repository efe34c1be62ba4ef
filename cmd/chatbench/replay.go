package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/projections"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/moderation"
	"github.com/chatbackend/chat/services/natsauth"
)

type replayResult struct {
	events      int
	generate    time.Duration
	rate        float64 // events/s rebuilt into PostgreSQL
	setup       time.Duration
	writing     time.Duration
	indexing    time.Duration // of the replay's time, building the indexes deferred for the load
	restore     time.Duration
	restoreRate float64
	sync        *syncResult
}

// replayScenario writes a log of n events to a NATS server of its own,
// rebuilds the read model from it with chatctl replay's code, and times how
// long a stateful consumer takes to restore its state from the same log.
func (b *bench) replayScenario(ctx context.Context, n int) (*replayResult, error) {
	dir, err := os.MkdirTemp("", "chatbench-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	password := rand.Text()
	ns, err := jet.StartEmbedded("127.0.0.1:0", dir, natsauth.Users(password, password, nil))
	if err != nil {
		return nil, err
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(natsauth.ChatdUser, password))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		return nil, err
	}
	if err := jet.EnsureStreams(ctx, js, jet.StreamOptions{}); err != nil {
		return nil, err
	}
	res := &replayResult{events: n}
	start := time.Now()
	if err := generateLog(ctx, js, n); err != nil {
		return nil, err
	}
	res.generate = time.Since(start)
	log := slog.New(slog.DiscardHandler)
	r := &projections.Replay{DatabaseURL: b.srv.dbURL, JS: js, Log: log, Live: "replay_src", Until: uint64(n),
		Target: "replay_bench", Fresh: true, Batch: projections.DefaultReplayBatch}
	if b.o.verbose {
		r.Progress = os.Stderr
	}
	// As chatctl replay runs it: with its collector setting.
	restoreGC := config.CollectLess(os.Getenv)
	stop := b.profileReplay()
	sum, err := r.Run(ctx)
	stop()
	restoreGC()
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	res.rate = float64(sum.Applied) / sum.Applying.Seconds()
	res.setup, res.writing, res.indexing = sum.Elapsed-sum.Applying, sum.Writing, sum.Indexing
	// 1,000 missed deliveries out of the full log; a quick run's smaller log
	// gives its users fewer, so the figure is taken on as many as they have.
	for missed := 1000; ; missed /= 2 {
		res.sync, err = b.syncScenario(ctx, r.Target, missed)
		if err == nil || !errors.Is(err, errFewDeliveries) || missed <= 10 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}

	apps, _ := config.LoadApps("")
	mod := moderation.New(apps, nil, log)
	start = time.Now()
	err = jet.Read(ctx, js, jet.ReadOptions{Until: uint64(n), Max: 2000, Park: jet.NewParker(js, "bench", log)},
		func(_ context.Context, b jet.Batch) error { mod.Restore(b.Events); return nil })
	if err != nil {
		return nil, err
	}
	res.restore = time.Since(start)
	res.restoreRate = float64(n) / res.restore.Seconds()
	return res, nil
}

// generateLog appends a realistic history: conversations of 2 to 20 members,
// members joining, and messages each posted then approved.
func generateLog(ctx context.Context, js jetstream.JetStream, n int) error {
	app := jet.NewAppender(js)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	actor := events.Actor{ID: "u1", Type: events.ActorUser}
	batch := make([]*events.Envelope, 0, 5000)
	flush := func() error {
		if _, err := app.AppendAll(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	add := func(id string, p events.Payload) error {
		at = at.Add(time.Millisecond)
		e, err := events.New(id, "geosector", at, actor, p)
		if err != nil {
			return err
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	}
	convs := max(1, n/100)
	count := 0
	for c := 0; c < convs && count < n; c++ {
		id := "c" + strconv.Itoa(c)
		size := 2 + c%19
		members := make([]events.Member, size)
		for i := range members {
			members[i] = events.Member{UserID: "u" + strconv.Itoa((c*7+i)%5000), Role: events.RoleMember}
		}
		members[0].Role = events.RoleAdmin
		if err := add("conv-"+id, &events.ConversationCreated{ConversationID: id, Kind: events.KindGroup,
			ReplyPermission: events.ReplyAll, CreatedBy: members[0].UserID, Members: members}); err != nil {
			return err
		}
		count++
	}
	for k := 0; count < n; k++ {
		c := k % convs
		conv := "c" + strconv.Itoa(c)
		if k%50 == 49 {
			if err := add("join-"+strconv.Itoa(k), &events.MemberJoined{ConversationID: conv, UserID: "u" + strconv.Itoa(5000+k%3000),
				Role: events.RoleMember, AddedBy: "u1"}); err != nil {
				return err
			}
			count++
			continue
		}
		sender := "u" + strconv.Itoa((c*7)%5000)
		mid := events.MessageID("geosector", sender, "k"+strconv.Itoa(k))
		p := &events.MessagePosted{MessageID: mid, ClientMsgID: "k" + strconv.Itoa(k), ConversationID: conv, SenderID: sender,
			SenderType: events.ActorUser, Content: "message number " + strconv.Itoa(k), ContentType: events.ContentText}
		if err := add(mid, p); err != nil {
			return err
		}
		count++
		if count < n {
			if err := add("mod-"+mid, &events.MessageModerated{MessageID: mid, ConversationID: conv, SenderID: sender,
				ClientMsgID: p.ClientMsgID, Status: events.StatusApproved, PostedSeq: uint64(count)}); err != nil {
				return err
			}
			count++
		}
	}
	return flush()
}
