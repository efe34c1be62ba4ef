package daemon_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// Stopping chatd while a client is sending loses nothing it acknowledged
// and repeats nothing: after a restart on the same log and database, every
// acknowledged message is in history once, and the client's retries of the
// rest add each of them once too.
func TestRestartUnderLoadLosesAndRepeatsNothing(t *testing.T) {
	cfg := daemontest.Config(t, daemontest.Unlimited)
	c := daemontest.Start(t, cfg)
	conv := group(t, c, "alice", "bob")

	const n = 600
	alice, err := mqttlite.Dial(c.MQTTAddr(), "alice-fault", "alice", c.Token("geosector", "alice", "member"), nil)
	if err != nil {
		t.Fatal(err)
	}
	go alice.Run()
	body := func(i int) []byte {
		return []byte(`{"clientMsgId":"f` + strconv.Itoa(i) + `","conversationId":"` + conv + `","content":"load ` + strconv.Itoa(i) + `"}`)
	}
	// Keep up to 50 commands in flight; stop chatd once a third of them are
	// acknowledged, while others are on their way.
	stopped := make(chan struct{})
	for i := range n {
		testkit.Eventually(t, 20*time.Second, "acknowledgements to keep up", func() bool {
			return int(alice.PubAcks.Load()) >= i-50
		})
		if err := alice.Publish("chat/cmd/alice/send", body(i), 1); err != nil {
			break // the server went away under us
		}
		if int(alice.PubAcks.Load()) >= n/3 {
			go func() { c.Stop(); close(stopped) }()
			break
		}
	}
	testkit.Eventually(t, 30*time.Second, "chatd to stop", func() bool {
		return alice.Publish("chat/cmd/alice/send", body(0), 1) != nil
	})
	<-stopped // the log's files are closed before another server opens them
	acked := int(alice.PubAcks.Load())
	alice.Close()
	if acked == 0 || acked >= n {
		t.Fatalf("%d of %d acknowledged: the stop did not land mid-stream", acked, n)
	}

	c = daemontest.Start(t, cfg) // same data directory, log and database
	var seen map[string]bool
	countHistory := func() (total, distinct int) {
		seen = map[string]bool{}
		before := ""
		for {
			path := "/api/chat/conversations/" + conv + "/messages?limit=200" + before
			status, raw := c.Do("GET", path, c.Token("geosector", "bob", "member"), nil)
			if status != http.StatusOK {
				t.Fatalf("history: %d %s", status, raw)
			}
			page := testkit.JSON[struct {
				Messages []struct {
					ClientMsgID string
					Seq         uint64
				}
				NextBefore uint64
			}](t, raw)
			for _, m := range page.Messages {
				total++
				seen[m.ClientMsgID] = true
			}
			if page.NextBefore == 0 {
				return total, len(seen)
			}
			before = fmt.Sprintf("&before=%d", page.NextBefore)
		}
	}
	// Every message acknowledged before the stop is there, once. (Messages
	// sent in order: the first `acked` ones are the acknowledged ones.)
	whileGrowing(t, "acknowledged messages in history", func() (bool, int) {
		total, distinct := countHistory()
		if total != distinct {
			t.Fatalf("history repeats messages: %d rows for %d messages", total, distinct)
		}
		for i := range acked {
			if !seen["f"+strconv.Itoa(i)] {
				return false, distinct
			}
		}
		return true, distinct
	})
	t.Logf("%d of %d messages acknowledged before the stop", acked, n)

	// The client retries everything; each message ends up there once.
	alice, err = mqttlite.Dial(c.MQTTAddr(), "alice-fault-2", "alice", c.Token("geosector", "alice", "member"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	go alice.Run()
	for i := range n {
		if err := alice.Publish("chat/cmd/alice/send", body(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	whileGrowing(t, "every message in history", func() (bool, int) {
		_, distinct := countHistory()
		if distinct != n {
			var missing []string
			for i := range n {
				if !seen["f"+strconv.Itoa(i)] {
					missing = append(missing, strconv.Itoa(i))
				}
			}
			t.Logf("missing %d: %v", len(missing), missing[:min(len(missing), 20)])
		}
		return distinct == n, distinct
	})
	if total, distinct := countHistory(); total != n || distinct != n {
		t.Fatalf("history holds %d rows for %d distinct messages, want %d", total, distinct, n)
	}
}

// whileGrowing waits until cond says done, failing only once its progress
// (the history's size) has not grown for 30 s, or after 3 minutes: a
// machine busy with other tests projects slowly, a stall is a bug.
func whileGrowing(t *testing.T, what string, cond func() (done bool, progress int)) {
	t.Helper()
	const stall, limit = 30 * time.Second, 3 * time.Minute
	best, grew, start := -1, time.Now(), time.Now()
	testkit.Eventually(t, limit, what, func() bool {
		done, progress := cond()
		if progress > best {
			best, grew = progress, time.Now()
		}
		if !done && time.Since(grew) > stall {
			t.Fatalf("waiting for %s: no progress for %v (at %d after %v)", what, stall, best, time.Since(start).Round(time.Second))
		}
		return done
	})
}
