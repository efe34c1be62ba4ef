package bridge

import (
	"time"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/ratelimit"
)

// CodeRateLimited answers a command past its sender's rate (PROTOCOL §2).
const CodeRateLimited = "rate_limited"

// CommandLimits bound each user's MQTT commands by their application's rate.
// A nil CommandLimits limits nothing.
type CommandLimits struct{ byApp ratelimit.ByApp }

// NewCommandLimits returns the per-user command buckets of every application.
func NewCommandLimits(apps config.Apps) *CommandLimits {
	return &CommandLimits{byApp: ratelimit.NewByApp(apps.CommandRates())}
}

// allow takes one of user's tokens; when none is left it says how long
// until one is back.
func (l *CommandLimits) allow(app, user string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	return l.byApp.Allow(app, user)
}
