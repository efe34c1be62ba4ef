package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/chatbackend/chat/queries"
	chatsql "github.com/chatbackend/chat/sql"
	"github.com/chatbackend/chat/sql/db"
)

// errFewDeliveries: no sample user has as many deliveries as asked.
var errFewDeliveries = errors.New("sample users have too few deliveries in this log")

type syncResult struct {
	users    int
	missed   int // deliveries each user catches up on
	median   time.Duration
	p95      time.Duration
	pageSize int
}

// syncScenario times GET /sync's read (queries.Store.Sync, the handler's
// whole work but HTTP) on the read model the replay scenario rebuilt: for
// sample users, the last missed deliveries out of the whole log, in pages
// of 500, from one database connection pool.
func (b *bench) syncScenario(ctx context.Context, schema string, missed int) (*syncResult, error) {
	pool, err := chatsql.Open(ctx, b.srv.dbURL, schema)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	store := queries.Store{Q: db.New(pool), DB: pool}
	res := &syncResult{missed: missed, pageSize: queries.MaxSyncLimit}
	follow := func(user string, since uint64, upTo int) ([]uint64, error) {
		var seqs []uint64
		for len(seqs) < upTo {
			page, err := store.Sync(ctx, "geosector", user, since, queries.MaxSyncLimit)
			if err != nil {
				return nil, err
			}
			for _, e := range page.Events {
				var env struct{ Seq uint64 }
				if err := json.Unmarshal(e, &env); err != nil {
					return nil, err
				}
				seqs = append(seqs, env.Seq)
			}
			if !page.HasMore {
				break
			}
			since = page.Next
		}
		return seqs, nil
	}
	var took []time.Duration
	for i := 0; i < 200 && len(took) < 20; i++ {
		user := "u" + strconv.Itoa(i*97%5000)
		all, err := follow(user, 0, 1<<30)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", user, err)
		}
		if len(all) <= missed {
			continue // too few deliveries for this user
		}
		since := all[len(all)-missed-1]
		start := time.Now()
		got, err := follow(user, since, missed)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", user, err)
		}
		took = append(took, time.Since(start))
		// Two deliveries may share a position (a sender's message.new and
		// moderation.result): from since, every one after it comes back.
		want := len(all) - sort.Search(len(all), func(i int) bool { return all[i] > since })
		if len(got) != min(want, missed) && len(got) != want {
			return nil, fmt.Errorf("sync %s from %d gave %d deliveries, want %d", user, since, len(got), want)
		}
	}
	if len(took) == 0 {
		return nil, fmt.Errorf("%w: none has %d", errFewDeliveries, missed)
	}
	slices.Sort(took)
	res.users, res.median, res.p95 = len(took), took[len(took)/2], took[len(took)*95/100]
	return res, nil
}
