package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// receiptsResult compares the same chat load without and with receipts:
// in the second run every recipient sends delivered, then read, for every
// message it receives.
type receiptsResult struct {
	plain, with *loadResult
	// cpuPlain and cpuWith are chatd's CPU over each run, until its
	// receipts were all decided.
	cpuPlain, cpuWith time.Duration
	published         int64 // receipts the recipients sent
	appended          int64 // receipt events appended to the log
	settle            time.Duration
	wall              time.Duration // the run with receipts, first send to last receipt decided
}

// perMessage is chatd's CPU per message of the plain run.
func (r *receiptsResult) perMessage() time.Duration {
	return r.cpuPlain / time.Duration(max(1, r.plain.sent))
}

// perReceipt is chatd's CPU per receipt appended: what the run with
// receipts cost beyond the same messages without.
func (r *receiptsResult) perReceipt() time.Duration {
	extra := r.cpuWith - r.perMessage()*time.Duration(r.with.sent)
	return extra / time.Duration(max(1, r.appended))
}

func (r *receiptsResult) appendedPerSec() float64 {
	return float64(r.appended) / r.wall.Seconds()
}

// acker sends the receipts of the population while it is on: each
// recipient's from its own connection, in the order it received the messages.
type acker struct {
	pop       *population
	queues    []chan ack
	wg        sync.WaitGroup
	published atomic.Int64
	failed    atomic.Int64
	dropped   atomic.Int64
}

type ack struct {
	user    int
	payload []byte
}

func newAcker(pop *population) *acker {
	a := &acker{pop: pop, queues: make([]chan ack, 8)}
	for i := range a.queues {
		q := make(chan ack, 1<<16)
		a.queues[i] = q
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for k := range q {
				a.acknowledge(k)
			}
		}()
	}
	return a
}

// received queues the receipts of a delivery; it never blocks the
// connection that received it.
func (a *acker) received(user int, payload []byte) {
	select {
	case a.queues[user%len(a.queues)] <- ack{user, append([]byte(nil), payload...)}:
	default:
		a.dropped.Add(1)
	}
}

func (a *acker) acknowledge(k ack) {
	var env struct {
		Data struct{ ID, ConversationID string }
	}
	if json.Unmarshal(k.payload, &env) != nil || env.Data.ID == "" {
		a.failed.Add(1)
		return
	}
	body := []byte(`{"conversationId":"` + env.Data.ConversationID + `","messageId":"` + env.Data.ID + `"}`)
	user := a.pop.users[k.user]
	for _, action := range []string{"delivered", "read"} {
		if err := a.pop.conns[k.user].Publish("chat/cmd/"+user+"/"+action, body, 1); err != nil {
			a.failed.Add(1)
			continue
		}
		a.published.Add(1)
	}
}

func (a *acker) stop() {
	for _, q := range a.queues {
		close(q)
	}
	a.wg.Wait()
}

// receiptCommands is what chatd did with the receipts it received so far:
// appended, and all of them (appended, duplicates, refusals).
func (b *bench) receiptCommands() (appended, all int64, err error) {
	err = b.scrapeMetrics(func(line string) error {
		if !strings.HasPrefix(line, "chat_commands_total{") ||
			!strings.Contains(line, `action="read"`) && !strings.Contains(line, `action="delivered"`) {
			return nil
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return fmt.Errorf("metrics: %q", line)
		}
		all += int64(v)
		if strings.Contains(line, `result="appended"`) {
			appended += int64(v)
		}
		return nil
	})
	return appended, all, err
}

// receiptsScenario offers the same one_to_one chat twice at rate: plain,
// then with every recipient acknowledging every message.
func (b *bench) receiptsScenario(pairs []*conversation, rate float64, dur, drain time.Duration) (*receiptsResult, error) {
	res := &receiptsResult{}
	b.quiet()
	cpu0 := b.serverCPU()
	res.plain = b.chat("plain messages", pairs, nil, 0, rate, dur, drain)
	res.cpuPlain = b.serverCPU() - cpu0
	b.logf("  %s", res.plain.line())

	b.quiet()
	appended0, all0, err := b.receiptCommands()
	if err != nil {
		return nil, err
	}
	a := newAcker(b.pop)
	b.rec.setOnDelivery(a.received)
	b.profileCPU("receipts", dur)
	cpu0, t0 := b.serverCPU(), time.Now()
	res.with = b.chat("messages with receipts", pairs, nil, 0, rate, dur, drain)
	b.rec.setOnDelivery(nil)
	a.stop()
	// The receipts trail their messages: wait until chatd has decided every
	// one sent, up to drain.
	settle := time.Now()
	res.published = a.published.Load()
	for deadline := time.Now().Add(drain); ; {
		appended, all, err := b.receiptCommands()
		if err != nil {
			return nil, err
		}
		res.appended = appended - appended0
		if all-all0 >= res.published || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.settle = time.Since(settle)
	res.cpuWith, res.wall = b.serverCPU()-cpu0, time.Since(t0)
	if n := a.dropped.Load() + a.failed.Load(); n > 0 {
		b.logf("  %d receipts could not be sent (queue full or publish failed)", n)
	}
	b.logf("  %s", res.with.line())
	b.logf("  %d receipts sent, %d appended (%.0f/s); chatd CPU %.1f µs per message, %.1f µs per receipt (ratio %.2f); receipts settled %v after the last message",
		res.published, res.appended, res.appendedPerSec(), us(res.perMessage()), us(res.perReceipt()),
		res.perReceipt().Seconds()/res.perMessage().Seconds(), res.settle.Round(time.Millisecond))
	return res, nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
