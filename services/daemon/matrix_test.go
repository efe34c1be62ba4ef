package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// The permission matrix of what can be done with a message after sending it
// (PROTOCOL §2): each actor tries each action on the sender's message in one
// group, and gets either the effect, delivered to exactly those entitled to
// it, or a refusal with its code, with nothing appended and nothing
// delivered.
//
// The group: alice is its admin (and creator), bob the sender of the
// messages acted on, carol another member, rita a read_only member (a member
// until she posted two messages of her own, then demoted) and dave no member
// at all.
var matrixActors = map[string]string{
	"sender":           "bob",
	"member":           "carol",
	"admin":            "alice",
	"read_only":        "rita",
	"read_only author": "rita", // acting on her own message, posted before her demotion
	"non-member":       "dave",
}

var matrixCells = []struct {
	action, actor string
	code          string // "" when the action takes effect
}{
	{"edit", "sender", ""},
	{"edit", "member", "forbidden"},
	{"edit", "admin", "forbidden"},
	{"edit", "read_only", "forbidden"},
	{"edit", "read_only author", "reply_not_allowed"}, // editing is posting again
	{"edit", "non-member", "not_member"},

	{"delete", "sender", ""},
	{"delete", "member", "forbidden"},
	{"delete", "admin", ""},
	{"delete", "read_only", "forbidden"},
	{"delete", "read_only author", ""}, // own messages, whatever the role
	{"delete", "non-member", "not_member"},

	{"read", "sender", ""},
	{"read", "member", ""},
	{"read", "admin", ""},
	{"read", "read_only", ""},
	{"read", "non-member", "not_member"},

	{"delivered", "sender", ""},
	{"delivered", "member", ""},
	{"delivered", "admin", ""},
	{"delivered", "read_only", ""},
	{"delivered", "non-member", "not_member"},

	// Focus before typing: the typing cells count on everyone who may
	// focus doing so.
	{"focus", "sender", ""},
	{"focus", "member", ""},
	{"focus", "admin", ""},
	{"focus", "read_only", ""},
	{"focus", "non-member", "not_member"},

	{"typing", "sender", ""},
	{"typing", "member", ""},
	{"typing", "admin", ""},
	{"typing", "read_only", "reply_not_allowed"}, // typing follows posting (roster.Allowed)
	{"typing", "non-member", "not_member"},
}

// delivered is what each action's effect is delivered as.
var deliveredAs = map[string]string{
	"edit": "message.edited", "delete": "message.deleted", "read": "read.receipt",
	"delivered": "delivery.receipt", "focus": "typing.start", "typing": "typing.start",
}

// matrixChat is the shared set-up of every cell.
type matrixChat struct {
	c       *daemontest.Chat
	conv    string
	fence   string // a conversation no client belongs to, for live barriers
	clients map[string]*testkit.Client
	members []string // of conv, in a fixed order
	own     []string // rita's messages, posted before her demotion
	focused map[string]bool
	n       int
}

func TestPermissionMatrixOfMessagesAfterSending(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	m := &matrixChat{c: c, clients: map[string]*testkit.Client{}, focused: map[string]bool{},
		members: []string{"alice", "bob", "carol", "rita"}}
	for _, u := range []string{"alice", "bob", "carol", "rita", "dave"} {
		m.clients[u] = connect(t, c, u)
	}
	m.conv = group(t, c, "alice", "bob", "carol", "rita")
	m.fence = group(t, c, "zed", "yan")
	rita := m.clients["rita"]
	m.own = []string{posted(t, rita, rita, m.conv, "r1", "rita's first"), posted(t, rita, rita, m.conv, "r2", "rita's second")}
	if status, body := c.Do("POST", "/api/chat/conversations/"+m.conv+"/participants", c.Token("geosector", "alice", "member"),
		map[string]string{"userId": "rita", "role": "read_only"}); status != http.StatusOK {
		t.Fatalf("demote rita: %d %s", status, body)
	}
	fanoutPassed(t, m.c, c.LastSeq())

	// One test, not subtests: the clients fail the test they were
	// connected in, and every cell builds on the ones before.
	logBeforeLive := uint64(0)
	for _, cell := range matrixCells {
		switch cell.action {
		case "focus", "typing":
			if logBeforeLive == 0 {
				logBeforeLive = c.LastSeq()
			}
			m.live(t, cell.action, cell.actor, cell.code)
		default:
			m.durable(t, cell.action, cell.actor, cell.code)
		}
	}
	if got := c.LastSeq(); got != logBeforeLive {
		t.Fatalf("typing and focus appended %d events to the log", got-logBeforeLive)
	}
}

// durable plays an edit, delete, read or delivered cell.
func (m *matrixChat) durable(t *testing.T, action, actor, code string) {
	t.Helper()
	user := matrixActors[actor]
	cl := m.clients[user]
	target := m.target(t, actor, action)
	m.n++
	cmdID := fmt.Sprintf("cell-%d", m.n)
	rejectedBefore := rejections(t, cl, action, "")
	before := m.c.LastSeq()
	switch action {
	case "edit":
		edit(cl, cmdID, target, "edited in "+cmdID)
	case "delete":
		del(cl, cmdID, target)
	default:
		receipt(cl, action, m.conv, target)
	}
	typ := deliveredAs[action]
	about := func(r testkit.Received) bool {
		if r.Type != typ {
			return false
		}
		d := testkit.JSON[struct{ ID, MessageID, UserID string }](t, r.Data)
		if action == "read" || action == "delivered" {
			return d.MessageID == target && d.UserID == user
		}
		return d.ID == target
	}
	if code != "" {
		if got := rejected(t, cl, action, "", rejectedBefore); got != code {
			t.Fatalf("%s (%s): rejected as %s, want %s", action, actor, got, code)
		}
		if got := m.c.LastSeq(); got != before {
			t.Fatalf("%s (%s): refused, yet appended %d events", action, actor, got-before)
		}
	} else {
		for _, u := range m.members {
			m.clients[u].WaitFor(typ+" of "+target, about)
		}
		if got := m.c.LastSeq(); got != before+1 {
			t.Fatalf("%s (%s): appended %d events, want 1", action, actor, got-before)
		}
	}
	m.durableBarrier(t)
	for u, other := range m.clients {
		want := 0
		if code == "" && u != "dave" {
			want = 1
		}
		n := 0
		for _, r := range other.Received() {
			if about(r) {
				n++
			}
		}
		if n != want {
			t.Errorf("%s (%s): %s received %s of %s %d times, want %d", action, actor, u, typ, target, n, want)
		}
	}
}

// target is the message a cell acts on: a fresh one of bob's (so that each
// edit, deletion or receipt has something to change), or rita's own.
func (m *matrixChat) target(t *testing.T, actor, action string) string {
	if actor == "read_only author" {
		if action == "edit" {
			return m.own[0]
		}
		return m.own[1]
	}
	m.n++
	content := fmt.Sprintf("bob's message %d", m.n)
	return posted(t, m.clients["bob"], m.clients["rita"], m.conv, fmt.Sprintf("b-%d", m.n), content)
}

// live plays a focus or typing cell against a model of who focuses conv:
// typing.start reaches exactly the members focusing it, not the typist.
func (m *matrixChat) live(t *testing.T, action, actor, code string) {
	t.Helper()
	user := matrixActors[actor]
	cl := m.clients[user]
	// A focus is shown by the typing it lets through: each focus cell has
	// another member who may type do so, none more than twice (typing is
	// rate limited per connection; rita, read_only, may not type).
	typist := user
	if action == "focus" {
		typist = map[string]string{"alice": "bob", "bob": "carol", "carol": "alice", "rita": "alice", "dave": "bob"}[user]
	}
	counts := func() map[string]int {
		out := map[string]int{}
		for u, other := range m.clients {
			out[u] = countOf(other, "typing.start", `"userId":"`+typist+`"`)
		}
		return out
	}
	before := counts()
	rejectedBefore := rejections(t, cl, action, m.conv)
	if action == "focus" {
		focus(cl, m.conv)
	}
	typing(m.clients[typist], m.conv, true)
	if code != "" {
		if got := rejected(t, cl, action, m.conv, rejectedBefore); got != code {
			t.Fatalf("%s (%s): rejected as %s, want %s", action, actor, got, code)
		}
	} else if action == "focus" {
		m.focused[user] = true
	}
	want := map[string]int{}
	if action == "focus" || code == "" { // a refused focus still lets the others hear the typist
		for u := range m.focused {
			if u != typist {
				want[u] = 1
			}
		}
	}
	for u := range want {
		m.clients[u].WaitFor("typing.start of "+typist, func(testkit.Received) bool {
			return countOf(m.clients[u], "typing.start", `"userId":"`+typist+`"`) > before[u]
		})
	}
	m.liveBarrier(t)
	after := counts()
	for u := range m.clients {
		if got := after[u] - before[u]; got != want[u] {
			t.Errorf("%s (%s): %s received %s's typing.start %d times, want %d", action, actor, u, typist, got, want[u])
		}
	}
}

// rejections counts cl's command.rejected of action (about conv, when
// given: live refusals carry no client id); of any action when action is "".
func rejections(t *testing.T, cl *testkit.Client, action, conv string) int {
	n := 0
	for _, r := range cl.Of("command.rejected") {
		if d := testkit.JSON[struct{ Action, Message string }](t, r.Data); (action == "" || d.Action == action) && strings.Contains(d.Message, conv) {
			n++
		}
	}
	return n
}

// rejected waits for cl's next command.rejected of action, after before of
// them, and returns its code.
func rejected(t *testing.T, cl *testkit.Client, action, conv string, before int) string {
	t.Helper()
	cl.WaitFor(action+" rejected", func(testkit.Received) bool { return rejections(t, cl, action, conv) > before })
	var code string
	for _, r := range cl.Of("command.rejected") {
		if d := testkit.JSON[struct{ Action, Code, Message string }](t, r.Data); d.Action == action && strings.Contains(d.Message, conv) {
			code = d.Code
		}
	}
	return code
}

// fanoutPassed waits until fan-out has acknowledged the log up to seq: it
// acknowledges only once the broker holds every delivery of those events.
func fanoutPassed(t *testing.T, c *daemontest.Chat, seq uint64) {
	t.Helper()
	cons, err := c.JetStream().Consumer(context.Background(), events.Stream, jet.ConsumerFanout)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("fan-out past %d", seq), func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.AckFloor.Stream >= seq
	})
}

// durableBarrier returns once every client holds whatever fan-out sent it
// for the log so far: fan-out is past the last event, so its deliveries are
// queued for each client ahead of a refusal each client asks for now.
func (m *matrixChat) durableBarrier(t *testing.T) {
	t.Helper()
	fanoutPassed(t, m.c, m.c.LastSeq())
	m.n++
	for u, cl := range m.clients {
		id := fmt.Sprintf("fence-%d-%s", m.n, u)
		send(cl, m.conv, id, " ") // blank content: refused, never appended
		refused(t, cl, "send", id, "invalid_payload")
	}
}

// liveBarrier returns once every client holds whatever the live relay sent
// it so far: each asks to focus a conversation it is not in, and the relay
// answers in the order of the signals.
func (m *matrixChat) liveBarrier(t *testing.T) {
	t.Helper()
	for _, cl := range m.clients {
		liveBarrier(t, cl, m.fence)
	}
}

// liveBarrier returns once cl holds whatever the live relay sent it for
// the signals published so far: cl focuses fence, a conversation it is not
// in, and the relay, taking signals in order, answers after those.
func liveBarrier(t *testing.T, cl *testkit.Client, fence string) {
	t.Helper()
	n := rejections(t, cl, "focus", fence)
	focus(cl, fence)
	if got := rejected(t, cl, "focus", fence, n); got != "not_member" {
		t.Fatalf("focus of the fence rejected as %s", got)
	}
}
