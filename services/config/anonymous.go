package config

import (
	"time"

	"github.com/chatbackend/chat/services/ratelimit"
)

// fillAnonymous gives the POST /anonymous limits left out of the file their
// defaults: a device may start 3 visits at once then one every 10 s, an
// address 20 at once then 30 a minute (a shop's Wi-Fi serves several
// visitors), and a visitor's token lasts 30 days.
func fillAnonymous(l *Limits) {
	fillRate(&l.AnonymousPerDevicePerMinute, &l.AnonymousDeviceBurst, 6, 3)
	fillRate(&l.AnonymousPerAddressPerMinute, &l.AnonymousAddressBurst, 30, 20)
	if l.AnonymousTokenHours == 0 {
		l.AnonymousTokenHours = 30 * 24
	}
}

func (l Limits) anonymousValid() bool {
	return l.AnonymousPerDevicePerMinute > 0 && l.AnonymousDeviceBurst > 0 &&
		l.AnonymousPerAddressPerMinute > 0 && l.AnonymousAddressBurst > 0 && l.AnonymousTokenHours > 0
}

// AnonymousTokenTTL is how long a visitor's token lasts.
func (a *App) AnonymousTokenTTL() time.Duration {
	return time.Duration(a.Limits.AnonymousTokenHours) * time.Hour
}

// AnonymousDeviceRates is each application's bucket for one device's POST /anonymous.
func (as Apps) AnonymousDeviceRates() map[string]ratelimit.Rate {
	return as.rates(func(l Limits) ratelimit.Rate {
		return ratelimit.Rate{PerSecond: l.AnonymousPerDevicePerMinute / 60, Burst: l.AnonymousDeviceBurst}
	})
}

// AnonymousAddressRates is each application's bucket for one client
// address's POST /anonymous.
func (as Apps) AnonymousAddressRates() map[string]ratelimit.Rate {
	return as.rates(func(l Limits) ratelimit.Rate {
		return ratelimit.Rate{PerSecond: l.AnonymousPerAddressPerMinute / 60, Burst: l.AnonymousAddressBurst}
	})
}
