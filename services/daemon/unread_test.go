package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// newestFrom is the newest message.new cl has received from someone else:
// its id and seq, or "" when there is none.
func newestFrom(t *testing.T, cl *testkit.Client) (string, uint64) {
	var id string
	var seq uint64
	for _, r := range cl.Of("message.new") {
		m := testkit.JSON[changed](t, r.Data)
		if m.SenderID != cl.User && m.Seq > seq {
			id, seq = m.ID, m.Seq
		}
	}
	return id, seq
}

// fromOthers counts the distinct messages cl has received from others.
func fromOthers(t *testing.T, cl *testkit.Client) int {
	ids := map[string]bool{}
	for _, r := range cl.Of("message.new") {
		if m := testkit.JSON[changed](t, r.Data); m.SenderID != cl.User {
			ids[m.ID] = true
		}
	}
	return len(ids)
}

func TestUnreadCountsAreExactAfterConcurrentSendsAndReads(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	users := []string{"ana", "ben", "cai", "dov"}
	clients := map[string]*testkit.Client{}
	for _, u := range users {
		clients[u] = connect(t, c, u)
	}
	conv := group(t, c, "ana", "ben", "cai", "dov")
	const perMember = 8
	// cai deletes one of their own messages along the way; dov sends one
	// moderation refuses. Neither may count as unread.
	deleted := events.MessageID("geosector", "cai", "cai-2")

	// Every member sends its messages and, after each, reads up to the
	// newest message of the others it has received, all at once.
	var mu sync.Mutex
	lastRead := map[string]string{}
	var errs []error
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func(cl *testkit.Client) {
			defer wg.Done()
			publish := func(action string, payload any) {
				b, _ := json.Marshal(payload)
				tok := cl.Paho().Publish("chat/cmd/"+cl.User+"/"+action, 1, false, b)
				if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s %s: %v", cl.User, action, tok.Error()))
					mu.Unlock()
				}
			}
			sent := ""
			for i := range perMember {
				content := fmt.Sprintf("%s says %d", cl.User, i)
				if cl.User == "dov" && i == 3 {
					content = "dov says idiot"
				}
				publish("send", map[string]string{"clientMsgId": fmt.Sprintf("%s-%d", cl.User, i),
					"conversationId": conv, "content": content, "contentType": "text"})
				if cl.User == "cai" && i == 4 {
					publish("delete", map[string]string{"clientMsgId": "cai-del", "messageId": deleted})
				}
				if id, _ := newestFrom(t, cl); id != "" && id != sent {
					publish("read", map[string]string{"conversationId": conv, "messageId": id})
					sent = id
				}
			}
			mu.Lock()
			lastRead[cl.User] = sent
			mu.Unlock()
		}(clients[u])
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Everything settles: every sender knows moderation's decision on each
	// of its messages, every member has every approved message of the
	// others and the deletion, and every reader's own read.receipt of the
	// last read it sent came back.
	approved := map[string]int{}
	for _, u := range users {
		cl := clients[u]
		cl.WaitFor(fmt.Sprintf("%d moderation results", perMember), func(testkit.Received) bool {
			return len(cl.Of("moderation.result")) >= perMember
		})
		for _, r := range cl.Of("moderation.result") {
			if testkit.JSON[struct{ Status string }](t, r.Data).Status == "approved" {
				approved[u]++
			}
		}
	}
	total := approved["ana"] + approved["ben"] + approved["cai"] + approved["dov"]
	if total != 4*perMember-1 {
		t.Fatalf("%d messages approved, want %d (all but dov's refused one)", total, 4*perMember-1)
	}
	for _, u := range users {
		cl := clients[u]
		want := total - approved[u]
		cl.WaitFor(fmt.Sprintf("%d messages of the others", want), func(testkit.Received) bool { return fromOthers(t, cl) >= want })
		cl.WaitType("message.deleted", deleted)
		if id := lastRead[u]; id != "" {
			receiptOf(t, cl, "read.receipt", u, id)
		}
	}

	// The read model at the log's head answers exactly what the history says.
	head := c.LastSeq()
	for _, u := range users {
		tok := c.Token("geosector", u, "member")
		a, _ := read(t, c, "/conversations/"+conv+"/messages?limit=200&minSeq="+itoa(head), tok)
		if a.status != http.StatusOK {
			t.Fatalf("%s history: %d %s", u, a.status, a.body)
		}
		h := testkit.JSON[historyOf](t, []byte(a.body))
		readSeq := uint64(0)
		for _, m := range h.Messages {
			if m.ID == lastRead[u] {
				readSeq = m.Seq
			}
		}
		if lastRead[u] != "" && readSeq == 0 {
			t.Fatalf("%s read %s, not in the history", u, lastRead[u])
		}
		want := 0
		for _, m := range h.Messages {
			if m.ModerationStatus == "approved" && m.DeletedAt == nil && m.SenderID != u && m.Seq > readSeq {
				want++
			}
		}

		a, _ = read(t, c, "/conversations?minSeq="+itoa(head), tok)
		list := testkit.JSON[struct {
			Conversations []struct {
				ID          string
				UnreadCount int
			}
		}](t, []byte(a.body))
		if a.status != http.StatusOK || len(list.Conversations) != 1 || list.Conversations[0].ID != conv {
			t.Fatalf("%s conversations: %d %s", u, a.status, a.body)
		}
		if got := list.Conversations[0].UnreadCount; got != want {
			t.Errorf("%s: unreadCount %d, want %d (read up to %q at seq %d)", u, got, want, lastRead[u], readSeq)
		}

		a, _ = read(t, c, "/conversations/"+conv+"/participants?minSeq="+itoa(head), tok)
		ps := testkit.JSON[struct {
			Participants []struct {
				UserID            string
				LastReadMessageID *string
			}
		}](t, []byte(a.body))
		if a.status != http.StatusOK || len(ps.Participants) != len(users) {
			t.Fatalf("%s participants: %d %s", u, a.status, a.body)
		}
		for _, p := range ps.Participants {
			got := ""
			if p.LastReadMessageID != nil {
				got = *p.LastReadMessageID
			}
			if got != lastRead[p.UserID] || (p.LastReadMessageID == nil) != (lastRead[p.UserID] == "") {
				t.Errorf("%s sees %s's lastReadMessageId %v, want %q", u, p.UserID, p.LastReadMessageID, lastRead[p.UserID])
			}
		}
	}
}
