// Package ratelimit keeps token buckets by key (a user, a client address), so
// one flooding client is slowed down without touching anyone else.
package ratelimit

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Rate is a bucket's shape: PerSecond tokens come back each second, up to
// Burst. A zero Rate never limits.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Unlimited reports whether r lets everything through.
func (r Rate) Unlimited() bool { return r.PerSecond <= 0 || r.Burst <= 0 }

// Limiter holds one bucket per key. Buckets that have filled up again are
// forgotten, so memory follows the keys active in the last few seconds, not
// every key ever seen.
type Limiter struct {
	rate Rate
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// New returns a limiter of rate r; now is the clock (time.Now when nil).
func New(r Rate, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: r, now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. When the bucket is empty it takes
// nothing and says how long until a token is back.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.rate.Unlimited() {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fill(key)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

// Blocked reports whether key's bucket is empty, without taking a token: a
// check made before costly work whose failure alone is charged (Charge).
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	if l == nil || l.rate.Unlimited() {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return false, 0
	}
	return true, l.wait(b)
}

// Charge takes one token from key's bucket, even the last one.
func (l *Limiter) Charge(key string) {
	if l == nil || l.rate.Unlimited() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.fill(key); b.tokens >= 1 {
		b.tokens--
	}
}

// fill returns key's bucket brought up to date, creating it full.
func (l *Limiter) fill(key string) *bucket {
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.rate.Burst), at: now}
		l.buckets[key] = b
		return b
	}
	l.refill(b, now)
	return b
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+elapsed*l.rate.PerSecond)
		b.at = now
	}
}

// wait is how long until b holds a whole token, rounded up to a millisecond.
func (l *Limiter) wait(b *bucket) time.Duration {
	d := time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second))
	return max(d.Round(time.Millisecond), time.Millisecond)
}

// sweep forgets buckets full again (indistinguishable from new ones), at most
// once per refill period so a busy limiter does not scan on every call.
func (l *Limiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	full := time.Duration(float64(l.rate.Burst) / l.rate.PerSecond * float64(time.Second))
	l.nextSweep = now.Add(max(full, time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, k)
		}
	}
}

// Len is how many buckets are held (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// RetryAfterSeconds is d as an HTTP Retry-After value: whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// ByApp holds one limiter per application, each of its own rate, keyed
// within it by user.
type ByApp map[string]*Limiter

// NewByApp returns limiters of the given rates by application id.
func NewByApp(rates map[string]Rate) ByApp {
	b := make(ByApp, len(rates))
	for app, r := range rates {
		b[app] = New(r, nil)
	}
	return b
}

// Allow takes a token of user in app; an application without a limiter is
// not limited.
func (b ByApp) Allow(app, user string) (bool, time.Duration) { return b[app].Allow(user) }

// AddrKey is the key of a client address ("host:port" or a bare host): the
// host for IPv4, its /64 network for IPv6, where one client holds a whole
// network of addresses.
func AddrKey(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip.Is4() || ip.Is4In6() {
		return ip.Unmap().String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
