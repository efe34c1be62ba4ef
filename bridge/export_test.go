package bridge

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// Server is the broker's mochi server, for tests that look at its clients.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// HoldClients takes the broker's lock on its clients map, as a connection
// ending during Close does in mochi's deadlock, until release is called.
func HoldClients(b *Broker) (release func()) {
	b.srv.Clients.Lock()
	return b.srv.Clients.Unlock
}

// SetCloseWait bounds Close by d until restore is called.
func SetCloseWait(d time.Duration) (restore func()) {
	old := closeWait
	closeWait = d
	return func() { closeWait = old }
}
