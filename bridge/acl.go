package bridge

import (
	"strings"

	"github.com/chatbackend/chat/services/auth"
)

// Allowed decides one topic access for an authenticated identity (PROTOCOL §2):
// a user publishes only to {prefix}/cmd/{self}/{action} and subscribes only
// within {prefix}/user/{self}/; a service may read every command and write
// every user topic of every application. Everything else is refused.
func Allowed(c *auth.Claims, prefix string, prefixes []string, topic string, write bool) bool {
	if c.IsService() {
		for _, p := range prefixes {
			if write && strings.HasPrefix(topic, p+"/"+levelUser+"/") {
				return true
			}
			if !write && (topic == CommandFilter(p) || strings.HasPrefix(topic, p+"/"+levelCmd+"/")) {
				return true
			}
		}
		return false
	}
	if write {
		p, user, action, ok := parseCommandTopic(topic)
		return ok && p == prefix && user == c.User() && action != "" && !strings.ContainsAny(action, "+#")
	}
	own := prefix + "/" + levelUser + "/" + c.User() + "/"
	rest, ok := strings.CutPrefix(topic, own)
	return ok && rest != "" && !strings.Contains(rest, "+") && (!strings.Contains(rest, "#") || rest == "#")
}
