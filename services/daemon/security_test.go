package daemon_test

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// alertsOf are the security alerts cl received, by kind.
func alertsOf(t *testing.T, cl *testkit.Client) map[string][]bridge.SecurityAlert {
	t.Helper()
	out := map[string][]bridge.SecurityAlert{}
	for _, r := range cl.Of("security.alert") {
		if r.Topic != "chat/user/"+cl.User+"/security" {
			t.Fatalf("security alert on %s", r.Topic)
		}
		a := testkit.JSON[bridge.SecurityAlert](t, r.Data)
		out[a.Kind] = append(out[a.Kind], a)
	}
	return out
}

func TestSecurityAlertsTellTheUserOfNewClientsAndRefusedTokensWithinALimit(t *testing.T) {
	c := daemontest.Chatd(t)
	phone := connect(t, c, "bob")
	conv := group(t, c, "bob", "alice")
	alice := connect(t, c, "alice")

	// A second client of bob's: his phone hears of it, alice does not.
	laptop := connect(t, c, "bob")
	phone.WaitType("security.alert", `"kind":"new_client"`)
	got := alertsOf(t, phone)["new_client"]
	if len(got) != 1 || got[0].ClientID != clientID(laptop) {
		t.Fatalf("new-client alerts: %+v", got)
	}
	// The same client again is not new.
	laptop.Paho().Disconnect(0)
	again := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + c.MQTTAddr()).SetClientID(clientID(laptop)).
		SetUsername("bob").SetPassword(c.Token("geosector", "bob", "member")).SetAutoReconnect(false))
	if tok := again.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("laptop reconnects: %v", tok.Error())
	}
	defer again.Disconnect(0)
	// Connections are checked in order: the tablet's alert comes after
	// the laptop's reconnection was found known.
	tablet := connect(t, c, "bob")
	phone.WaitType("security.alert", clientID(tablet))

	// Someone knocks with bob's name and bad tokens: bob hears of it, at
	// most AlertBurst alerts in all.
	expired, _ := auth.Mint(c.Cfg.JWTSecret, "geosector", "bob", "member", "", "", time.Minute, time.Now().Add(-time.Hour))
	for i := range 6 {
		cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + c.MQTTAddr()).SetClientID(fmt.Sprint("intruder-", i)).
			SetUsername("bob").SetPassword(expired).SetAutoReconnect(false))
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
			cl.Disconnect(0)
			t.Fatal("the expired token was accepted")
		}
	}
	phone.WaitType("security.alert", `"kind":"auth_refused"`)
	fanoutPassed(t, c, c.LastSeq())
	fenced(t, c, phone, conv, "security-fence")
	all := alertsOf(t, phone)
	if len(all["new_client"]) != 2 || len(all["auth_refused"]) != bridge.AlertBurst-2 || len(all["session_ended"]) != 0 {
		t.Fatalf("bob got %+v, want two new clients and refusals up to the burst of %d", all, bridge.AlertBurst)
	}
	if r := all["auth_refused"][0]; r.Remote != "127.0.0.1" || r.Reason == "" {
		t.Fatalf("refusal alert: %+v", r)
	}
	if n := len(alice.Of("security.alert")); n != 0 {
		t.Fatalf("alice got %d of bob's alerts", n)
	}
}

func clientID(cl *testkit.Client) string {
	r := cl.Paho().OptionsReader()
	return r.ClientID()
}

// When the server ends a session of bob's (its queue passed the limit while
// he was away), his other device hears of it.
func TestEndedSessionIsToldToTheUsersOtherDevices(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.SessionQueue = 5 })
	alice, carol := connect(t, c, "alice"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	away, err := dialPersistent(t, c, "bob", "bob-tablet", true)
	if err != nil {
		t.Fatal(err)
	}
	away.away()
	phone := connect(t, c, "bob")
	sendAndWait(t, alice, carol, conv, "over-", 8)
	got := phone.WaitType("security.alert", `"kind":"session_ended"`)
	if a := testkit.JSON[bridge.SecurityAlert](t, got.Data); a.ClientID != "bob-tablet" || a.Reason == "" {
		t.Fatalf("alert: %+v", a)
	}
	if n := len(alice.Of("security.alert")) + len(carol.Of("security.alert")); n != 0 {
		t.Fatalf("others got %d of bob's alerts", n)
	}
}
