package bridge

import (
	"time"

	fastjson "github.com/goccy/go-json"

	"github.com/chatbackend/chat/events"
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

// Allow takes one of user's tokens; when none is left it says how long
// until one is back.
func (l *CommandLimits) Allow(app, user string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	return l.byApp.Allow(app, user)
}

// limited answers a command of user past their rate, or returns nil. Every
// command costs a token, valid or not, so a flood of bad commands is slowed
// down like any other.
func limited(l *CommandLimits, app, user, action string, payload []byte) *Rejection {
	ok, wait := l.Allow(app, user)
	if ok {
		return nil
	}
	var id struct {
		ClientMsgID string `json:"clientMsgId"`
	}
	_ = fastjson.Unmarshal(payload, &id) // only to name the refused command to its sender
	if !events.ValidID(id.ClientMsgID) {
		id.ClientMsgID = ""
	}
	r := reject(action, id.ClientMsgID, CodeRateLimited, "too many commands: retry in %v", wait)
	r.RetryAfterMs = wait.Milliseconds()
	return r
}
