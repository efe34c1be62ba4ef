package bridge

import mqtt "github.com/mochi-mqtt/server/v2"

// Server is the broker's mochi server, for tests that look at its clients.
func (b *Broker) Server() *mqtt.Server { return b.srv }
