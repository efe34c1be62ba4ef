package bridge

import (
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/chatbackend/chat/services/auth"
)

// isRevoked reports whether c's user may no longer connect whatever token
// it shows (a visitor converted into a client).
func (h *authHook) isRevoked(c *auth.Claims) bool {
	return h.revoked != nil && h.revoked(c.App, c.User())
}

// Revoke ends every connection and session of user in app at once: its
// token stopped working (a converted visitor), so what it connected with
// before must go too. Reconnecting is refused at CONNECT (BrokerOptions.Revoked).
func (b *Broker) Revoke(app, user string) {
	a := b.authHook.apps[app]
	if a == nil {
		return
	}
	for _, cl := range b.authHook.clientsOf(a.TopicPrefix + "/" + levelUser + "/" + user) {
		_ = b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		b.authHook.endSession(cl)
		b.log.Warn("security: mqtt session ended: its user's token was revoked", "app", app, "user", user, "client", cl.ID)
	}
}
