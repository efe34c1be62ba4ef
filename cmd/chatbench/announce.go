package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/chatbackend/chat/services/auth"
)

// announceResult is what the announcement scenario measured.
type announceResult struct {
	recipients int             // the announcement's audience (directory users)
	connected  int             // of them, connected clients whose delivery is timed
	directory  time.Duration   // writing the directory, batches of 10,000 users
	first      []time.Duration // to the first connected recipient's announcement.new
	last       []time.Duration
	accepted   []time.Duration // POST /announcements answered (its events in the read model)
	stats      []time.Duration // GET /announcements/{id}/stats?limit=200
	// CPU from the request to the last delivery, by process: what bounds
	// the last delivery on a machine that runs the recipients too.
	chatdCPU, generatorCPU, postgresCPU []time.Duration
	// raw is the baseline: the same connected recipients each sent one QoS 1
	// message on their announcements topic by the service account through
	// the same broker, no chat logic; from the first publish to the last
	// delivery.
	raw []time.Duration
}

// announcement writes a directory of recipients+1 users (u0, the author, a
// super admin of entity 0; everyone else a member of entity 1) as the host
// application's service would, then has u0 announce to entity 1 times
// times: the time from the request to the last connected recipient's
// announcement.new, and stats latency on the announcement.
func (b *bench) announcement(recipients, times int) (*announceResult, error) {
	res := &announceResult{recipients: recipients, connected: min(recipients, b.o.clients-1)}
	svc := mint("hostapp", auth.RoleService, "")
	t := time.Now()
	for from := 0; from <= recipients; from += 10000 {
		users := make([]map[string]any, 0, 10000)
		for i := from; i <= min(from+9999, recipients); i++ {
			u := map[string]any{"id": userName(i), "entity": "1", "role": "member"}
			if i == 0 {
				u["entity"], u["role"] = "0", "super_admin"
			}
			users = append(users, u)
		}
		if err := b.pop.restWith("POST", "/api/chat/directory/users:batch", svc, map[string]any{"users": users}, nil); err != nil {
			return nil, fmt.Errorf("directory: %w", err)
		}
	}
	res.directory = time.Since(t)
	author := mint(userName(0), "super_admin", "0")
	for i := range times {
		b.run++
		tag := "b" + strconv.Itoa(b.run) + "-"
		b.quiet()
		chatd0, gen0, pg0 := b.serverCPU(), selfCPU(), postgresCPU()
		t0 := time.Now()
		b.rec.begin(tag, t0, 0, 1)
		b.rec.setSender(0, 0)
		var a struct{ AnnouncementID string }
		err := b.pop.restWith("POST", "/api/chat/announcements", author, map[string]any{"title": "bench " + tag, "content": tag + "0",
			"clientMsgId": "ann" + tag, "targets": []map[string]string{{"entity": "1", "role": "all"}}}, &a)
		accepted := time.Since(t0)
		if err != nil {
			b.rec.end()
			return nil, fmt.Errorf("announce: %w", err)
		}
		// unique, not snapshot: a snapshot copies every latency and walks
		// every delivery under the lock the recipients' readers take, and the
		// wait would slow the deliveries it measures.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) && b.rec.unique() < res.connected {
			time.Sleep(time.Millisecond)
		}
		res.chatdCPU = append(res.chatdCPU, b.serverCPU()-chatd0)
		res.generatorCPU = append(res.generatorCPU, selfCPU()-gen0)
		res.postgresCPU = append(res.postgresCPU, cpuSince(pg0))
		snap := b.rec.snapshot()
		b.rec.end()
		if snap.unique < res.connected {
			return nil, fmt.Errorf("announcement %d reached %d of %d connected recipients", i, snap.unique, res.connected)
		}
		res.last, res.accepted = append(res.last, snap.last.Sub(t0)), append(res.accepted, accepted)
		res.first = append(res.first, slices.Min(snap.lat))
		for range 5 {
			t := time.Now()
			if err := b.pop.restWith(http.MethodGet, "/api/chat/announcements/"+a.AnnouncementID+"/stats?limit=200", author, nil, nil); err != nil {
				return nil, fmt.Errorf("stats: %w", err)
			}
			res.stats = append(res.stats, time.Since(t))
		}
	}
	slices.Sort(res.first)
	slices.Sort(res.last)
	slices.Sort(res.accepted)
	if err := b.rawFanout(res, times); err != nil {
		return nil, err
	}
	slices.Sort(res.stats)
	for _, ds := range [][]time.Duration{res.chatdCPU, res.generatorCPU, res.postgresCPU, res.raw} {
		slices.Sort(ds)
	}
	return res, nil
}

// rawFanoutPublishers is how many connections publish the raw fan-out: as
// many as chatd's fan-out spreads a large audience over on this machine.
const rawFanoutPublishers = 2

// rawFanout measures the announcement's raw baseline times times: one
// publish per connected recipient, spread over rawFanoutPublishers
// connections of the service account, each publishing its share as fast as
// its socket takes it.
func (b *bench) rawFanout(res *announceResult, times int) error {
	pubs, err := b.relayConns(rawFanoutPublishers)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range pubs {
			p.Close()
		}
	}()
	for range times {
		b.run++
		tag := "f" + strconv.Itoa(b.run) + "-"
		body := []byte(`{"type":"announcement.new","data":{"content":"` + tag + `0"}}`)
		b.quiet()
		t0 := time.Now()
		b.rec.begin(tag, t0, 0, 1)
		b.rec.setSender(0, 0) // u0 is the announcement's author: not a recipient
		errs := make(chan error, len(pubs))
		for i, p := range pubs {
			go func() {
				for u := 1 + i; u <= res.connected; u += len(pubs) {
					if err := p.Publish("chat/user/"+userName(u)+"/announcements", body, 1); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range pubs {
			if err := <-errs; err != nil {
				b.rec.end()
				return fmt.Errorf("raw fan-out: %w", err)
			}
		}
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) && b.rec.unique() < res.connected {
			time.Sleep(time.Millisecond)
		}
		snap := b.rec.snapshot()
		b.rec.end()
		if snap.unique < res.connected {
			return fmt.Errorf("raw fan-out reached %d of %d connected recipients", snap.unique, res.connected)
		}
		res.raw = append(res.raw, snap.last.Sub(t0))
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2]
}

// line is the scenario in one line, for logs and --announce-only.
func (r *announceResult) line() string {
	return fmt.Sprintf("announcement to %d recipients (%d connected): first delivery %v, last delivery %v (median of %v), request answered %v; %s; raw fan-out to the same recipients (one QoS 1 publish each through the same broker, no chat logic) %v (median of %v); stats %v (median of %v); directory of %d users written in %v",
		r.recipients, r.connected, median(r.first), median(r.last), r.last, median(r.accepted), r.cpu(), median(r.raw), r.raw, median(r.stats), r.stats,
		r.recipients+1, r.directory.Round(time.Millisecond))
}

// cpu says, as medians, what each process spent from the request to the
// last delivery, in all and per connected recipient.
func (r *announceResult) cpu() string {
	per := func(d time.Duration) string {
		return fmt.Sprintf("%v (%.1f µs per delivery)", d.Round(time.Millisecond), float64(d.Microseconds())/float64(max(r.connected, 1)))
	}
	return fmt.Sprintf("CPU until the last delivery: chatd %s, generator %s, PostgreSQL %s",
		per(median(r.chatdCPU)), per(median(r.generatorCPU)), per(median(r.postgresCPU)))
}

// mint signs a token of the bench's application.
func mint(user, role, entity string) string {
	t, err := auth.Mint([]byte(benchSecret), "geosector", user, role, entity, "", 6*time.Hour, time.Now())
	if err != nil {
		panic(err)
	}
	return t
}
