package main

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// recorder receives every delivery of the population and measures the
// current run: for each chat message k it knows when k was scheduled, who
// sent it and how many should receive it.
type recorder struct {
	moved atomic.Int64 // every MQTT message delivered to the population

	mu       sync.Mutex
	tag      string // content prefix of the current run: "b<run>-"
	t0       time.Time
	interval time.Duration // between scheduled sends
	sender   []int32       // by k
	got      map[uint64]uint8
	lat      []time.Duration
	// toIngress and sinceIngress split each measured delivery's latency at
	// the posting's ingress time (its createdAt): scheduled send to
	// ingress, ingress to receipt. Deliveries without one (the raw relay's)
	// add to neither.
	toIngress, sinceIngress []time.Duration
	last                    time.Time
	timeline                []int // deliveries per timeline step since t0
	step                    time.Duration
	// onDelivery, when set, is told of each measured delivery (a message
	// of the current run reaching one of its recipients, once); it must not
	// block.
	onDelivery func(user int, payload []byte)
}

func (r *recorder) setOnDelivery(f func(user int, payload []byte)) {
	r.mu.Lock()
	r.onDelivery = f
	r.mu.Unlock()
}

// begin starts measuring a run of messages k = 0..n-1 with content tag+k,
// scheduled every interval from t0.
func (r *recorder) begin(tag string, t0 time.Time, interval time.Duration, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tag, r.t0, r.interval = tag, t0, interval
	r.sender = make([]int32, n)
	for i := range r.sender {
		r.sender[i] = -1
	}
	r.got = make(map[uint64]uint8, n*4)
	r.lat = r.lat[:0]
	r.toIngress, r.sinceIngress = r.toIngress[:0], r.sinceIngress[:0]
	r.timeline = nil
	r.step = 250 * time.Millisecond
	r.last = time.Time{}
}

func (r *recorder) setSender(k, user int) {
	r.mu.Lock()
	r.sender[k] = int32(user)
	r.mu.Unlock()
}

var (
	contentKey   = []byte(`"content":"`)
	createdAtKey = []byte(`"createdAt":"`)
)

// createdAt is the ingress time a message delivery carries, if any.
func createdAt(payload []byte) (time.Time, bool) {
	i := bytes.Index(payload, createdAtKey)
	if i < 0 {
		return time.Time{}, false
	}
	rest := payload[i+len(createdAtKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	return t, err == nil
}

func (r *recorder) observe(user int, topic string, payload []byte) {
	now := time.Now()
	r.moved.Add(1)
	if !strings.HasSuffix(topic, "/messages") && !strings.HasSuffix(topic, "/announcements") {
		return
	}
	i := bytes.Index(payload, contentKey)
	if i < 0 {
		return
	}
	rest := payload[i+len(contentKey):]
	ingress, hasIngress := createdAt(payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tag == "" || !bytes.HasPrefix(rest, []byte(r.tag)) {
		return
	}
	rest = rest[len(r.tag):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return
	}
	k, err := strconv.Atoi(string(rest[:end]))
	if err != nil || k < 0 || k >= len(r.sender) || int(r.sender[k]) == user {
		return // the sender's own copy is not a delivery to measure
	}
	key := uint64(k)<<24 | uint64(user)
	r.got[key]++
	if r.got[key] > 1 {
		return
	}
	sched := r.t0.Add(time.Duration(k) * r.interval)
	r.lat = append(r.lat, now.Sub(sched))
	if hasIngress {
		r.toIngress = append(r.toIngress, ingress.Sub(sched))
		r.sinceIngress = append(r.sinceIngress, now.Sub(ingress))
	}
	if r.onDelivery != nil {
		r.onDelivery(user, payload)
	}
	r.last = now
	step := int(now.Sub(r.t0) / r.step)
	for len(r.timeline) <= step {
		r.timeline = append(r.timeline, 0)
	}
	if step >= 0 {
		r.timeline[step]++
	}
}

// snapshot is what a run measured.
type snapshot struct {
	unique, duplicated      int
	lat                     []time.Duration
	toIngress, sinceIngress []time.Duration
	last                    time.Time
	timeline                []int
	step                    time.Duration
}

func (r *recorder) snapshot() snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snapshot{unique: len(r.got), lat: append([]time.Duration(nil), r.lat...), last: r.last,
		toIngress: append([]time.Duration(nil), r.toIngress...), sinceIngress: append([]time.Duration(nil), r.sinceIngress...),
		timeline: append([]int(nil), r.timeline...), step: r.step}
	for _, n := range r.got {
		s.duplicated += int(n) - 1
	}
	return s
}

// unique is how many measured deliveries the current run has had so far.
func (r *recorder) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recorder) end() {
	r.mu.Lock()
	r.tag = ""
	r.mu.Unlock()
}
