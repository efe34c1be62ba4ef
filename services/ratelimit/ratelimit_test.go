package ratelimit_test

import (
	"testing"
	"time"

	"github.com/chatbackend/chat/services/ratelimit"
)

// clock is a manual clock: tests move time instead of waiting for it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)} }

func TestBurstThenRefusedWithTheTimeUntilTheNextToken(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Rate{PerSecond: 10, Burst: 5}, c.now)
	for i := range 5 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("alice")
	if ok {
		t.Fatal("sixth call in the same instant allowed past a burst of 5")
	}
	if wait != 100*time.Millisecond {
		t.Errorf("retry after %v, want 100ms at 10/s", wait)
	}
	c.advance(100 * time.Millisecond)
	if ok, _ := l.Allow("alice"); !ok {
		t.Error("refused after waiting the announced time")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Error("a second call allowed with one token earned")
	}
}

func TestOneKeyFloodingLeavesOthersUntouched(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Rate{PerSecond: 1, Burst: 3}, c.now)
	for range 1000 {
		l.Allow("mallory")
	}
	for i := range 3 {
		if ok, _ := l.Allow("bob"); !ok {
			t.Fatalf("bob's call %d refused while mallory floods", i+1)
		}
	}
}

func TestRefillStopsAtTheBurst(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Rate{PerSecond: 100, Burst: 2}, c.now)
	l.Allow("k")
	c.advance(time.Hour)
	allowed := 0
	for range 10 {
		if ok, _ := l.Allow("k"); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("after an hour idle %d calls allowed at once, want the burst of 2", allowed)
	}
}

func TestBlockedChargesOnlyFailures(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Rate{PerSecond: 0.5, Burst: 2}, c.now)
	if blocked, _ := l.Blocked("10.0.0.1"); blocked {
		t.Fatal("an address never seen is blocked")
	}
	l.Charge("10.0.0.1")
	if blocked, _ := l.Blocked("10.0.0.1"); blocked {
		t.Fatal("blocked after one failure with a burst of 2")
	}
	l.Charge("10.0.0.1")
	blocked, wait := l.Blocked("10.0.0.1")
	if !blocked || wait != 2*time.Second {
		t.Fatalf("after two failures: blocked %v, wait %v; want blocked for 2s at 0.5/s", blocked, wait)
	}
	if blocked, _ := l.Blocked("10.0.0.2"); blocked {
		t.Error("another address is blocked")
	}
	c.advance(2 * time.Second)
	if blocked, _ := l.Blocked("10.0.0.1"); blocked {
		t.Error("still blocked once a token is back")
	}
}

func TestIdleBucketsAreForgotten(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Rate{PerSecond: 10, Burst: 10}, c.now)
	for i := range 100 {
		l.Allow(string(rune('a' + i%26)))
	}
	if l.Len() == 0 {
		t.Fatal("no bucket held after calls")
	}
	c.advance(2 * time.Second) // every bucket is full again
	l.Allow("z")
	if l.Len() != 1 {
		t.Errorf("%d buckets held once the others filled up, want 1", l.Len())
	}
}

func TestZeroRateNeverLimits(t *testing.T) {
	var nilLimiter *ratelimit.Limiter
	for _, l := range []*ratelimit.Limiter{nilLimiter, ratelimit.New(ratelimit.Rate{}, nil)} {
		for range 1000 {
			if ok, _ := l.Allow("k"); !ok {
				t.Fatal("an unlimited limiter refused")
			}
		}
		l.Charge("k")
		if blocked, _ := l.Blocked("k"); blocked {
			t.Fatal("an unlimited limiter blocks")
		}
	}
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int{time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 0: 1} {
		if got := ratelimit.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestAddrKeyGroupsAnIPv6NetworkAndDropsPorts(t *testing.T) {
	for addr, want := range map[string]string{
		"10.1.2.3:5555":              "10.1.2.3",
		"10.1.2.3":                   "10.1.2.3",
		"[::ffff:10.1.2.3]:80":       "10.1.2.3",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"pipe":                       "pipe",
	} {
		if got := ratelimit.AddrKey(addr); got != want {
			t.Errorf("AddrKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
