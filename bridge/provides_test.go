package bridge

import (
	"slices"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// Each hook answers Provides for exactly its events: the broker calls a
// hook only for those, so one missing from authHook's would skip an
// authentication or an ACL check.
func TestHooksProvideExactlyTheirEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		hook mqtt.Hook
		want []byte
	}{
		{"auth", &authHook{}, []byte{mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish,
			mqtt.OnPacketEncode, mqtt.OnDisconnect, mqtt.OnClientExpired, mqtt.OnPublishDropped, mqtt.OnQosDropped}},
		{"ingest", &ingestHook{}, []byte{mqtt.OnPublish}},
		{"live", &liveHook{}, []byte{mqtt.OnSessionEstablished, mqtt.OnDisconnect}},
	} {
		for b := range 256 {
			if got, want := tc.hook.Provides(byte(b)), slices.Contains(tc.want, byte(b)); got != want {
				t.Errorf("%s hook: Provides(%d) = %v, want %v", tc.name, b, got, want)
			}
		}
	}
}
