package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))

func geosector(testing.TB) *config.App { return config.Defaults()["geosector"] }

func parseSend(t *testing.T, user, payload string) (*events.Envelope, *events.MessagePosted) {
	t.Helper()
	cmd, rej := bridge.ParseCommand(geosector(t), user, "send", []byte(payload), now)
	if rej != nil {
		t.Fatalf("send %s refused: %v", payload, rej)
	}
	e := cmd.Event
	p, err := e.Payload()
	if err != nil {
		t.Fatalf("accepted send has an invalid payload: %v", err)
	}
	m, ok := p.(*events.MessagePosted)
	if !ok {
		t.Fatalf("send appends %T, want MessagePosted", p)
	}
	return e, m
}

func TestSendAppendsMessagePostedFromTheTopicUser(t *testing.T) {
	e, m := parseSend(t, "alice",
		`{"clientMsgId":"k1","conversationId":"c1","content":"bonjour","senderId":"mallory","createdAt":"2001-01-01T00:00:00Z"}`)
	want := events.MessagePosted{
		MessageID: events.MessageID("geosector", "alice", "k1"), ClientMsgID: "k1", ConversationID: "c1",
		SenderID: "alice", SenderType: events.ActorUser, Content: "bonjour", ContentType: events.ContentText,
	}
	if *m != want {
		t.Fatalf("posted\n got %+v\nwant %+v", *m, want)
	}
	if e.Actor != (events.Actor{ID: "alice", Type: events.ActorUser}) {
		t.Fatalf("actor = %+v, want alice the user (never the payload's senderId)", e.Actor)
	}
	if e.ID != m.MessageID {
		t.Fatalf("event id %q differs from message id %q: redeliveries would not deduplicate", e.ID, m.MessageID)
	}
	if e.App != "geosector" || e.Type != events.TypeMessagePosted || e.V != events.Version {
		t.Fatalf("envelope header = %s/%s/v%d", e.App, e.Type, e.V)
	}
}

func TestSendCreatedAtIsTheServerTimePassedIn(t *testing.T) {
	e, _ := parseSend(t, "alice", `{"clientMsgId":"k1","conversationId":"c1","content":"hi","createdAt":"2001-01-01T00:00:00Z","at":"2001-01-01T00:00:00Z"}`)
	if !e.At.Equal(now) {
		t.Fatalf("At = %v, want the ingress time %v", e.At, now)
	}
	if e.At.Location() != time.UTC {
		t.Fatalf("At is in %v, want UTC", e.At.Location())
	}
}

func TestSendRedeliveryYieldsTheSameEvent(t *testing.T) {
	payload := `{"clientMsgId":"k1","conversationId":"c1","content":"hi"}`
	a, _ := parseSend(t, "alice", payload)
	b, _ := bridge.ParseCommand(geosector(t), "alice", "send", []byte(payload), now.Add(time.Hour))
	if b == nil || a.ID != b.Event.ID {
		t.Fatalf("a redelivered send got a new event id: %v vs %v", a.ID, b)
	}
	c, _ := parseSend(t, "bob", payload)
	if c.ID == a.ID {
		t.Fatal("two senders with the same clientMsgId share a message id")
	}
}

func TestSendKeepsContentTypeAndOptionalIDs(t *testing.T) {
	_, m := parseSend(t, "alice", `{"clientMsgId":"k1","conversationId":"c1","content":"","contentType":"image","attachmentId":"f1","replyTo":"m9"}`)
	if m.ContentType != events.ContentImage || m.AttachmentID != "f1" || m.ReplyTo != "m9" {
		t.Fatalf("posted = %+v", m)
	}
}

func TestSendFromAnonymousVisitorIsAnonymous(t *testing.T) {
	e, m := parseSend(t, "anon-42", `{"clientMsgId":"k1","conversationId":"c1","content":"hello"}`)
	if m.SenderType != events.ActorAnonymous || e.Actor.Type != events.ActorAnonymous {
		t.Fatalf("sender type %q / actor %q, want anonymous", m.SenderType, e.Actor.Type)
	}
}

func TestSendAcceptsContentAtTheLimit(t *testing.T) {
	app := geosector(t)
	_, m := parseSend(t, "alice", `{"clientMsgId":"k1","conversationId":"c1","content":"`+strings.Repeat("a", app.Limits.MaxContentBytes)+`"}`)
	if len(m.Content) != app.Limits.MaxContentBytes {
		t.Fatalf("content has %d bytes", len(m.Content))
	}
}

func TestParseCommandRejections(t *testing.T) {
	app := geosector(t)
	send := func(fields string) string { return `{"clientMsgId":"k1","conversationId":"c1",` + fields + `}` }
	cases := []struct {
		name, user, action, payload string
		code                        string
		clientMsgID                 string // echoed once the client id is known to be valid
	}{
		{"topic user with a dot", "al.ice", "send", send(`"content":"a"`), bridge.CodeForbidden, ""},
		{"topic user wildcard", "+", "send", send(`"content":"a"`), bridge.CodeForbidden, ""},
		{"empty topic user", "", "send", send(`"content":"a"`), bridge.CodeForbidden, ""},
		{"forbidden user before size", "a/b", "send", strings.Repeat(" ", bridge.MaxCommandBytes+1), bridge.CodeForbidden, ""},

		{"payload over the command limit", "alice", "send", send(`"content":"` + strings.Repeat("a", bridge.MaxCommandBytes) + `"`), bridge.CodeTooLarge, ""},
		{"oversized before unknown action", "alice", "dance", strings.Repeat(" ", bridge.MaxCommandBytes+1), bridge.CodeTooLarge, ""},
		{"content over the app limit", "alice", "send", send(`"content":"` + strings.Repeat("a", app.Limits.MaxContentBytes+1) + `"`), bridge.CodeTooLarge, "k1"},
		{"content limit counts bytes", "alice", "send", send(`"content":"` + strings.Repeat("é", app.Limits.MaxContentBytes/2+1) + `"`), bridge.CodeTooLarge, "k1"},

		{"unknown action", "alice", "dance", `{}`, bridge.CodeUnsupported, ""},
		{"empty action", "alice", "", `{}`, bridge.CodeUnsupported, ""},
		{"action case matters", "alice", "SEND", send(`"content":"a"`), bridge.CodeUnsupported, ""},
		{"edit without client id", "alice", "edit", `{"messageId":"m1","content":"b"}`, bridge.CodeInvalidPayload, ""},
		{"edit without message id", "alice", "edit", `{"clientMsgId":"k1","content":"b"}`, bridge.CodeInvalidPayload, "k1"},
		{"edit of a bad message id", "alice", "edit", `{"clientMsgId":"k1","messageId":"m.1","content":"b"}`, bridge.CodeInvalidPayload, "k1"},
		{"edit without content", "alice", "edit", `{"clientMsgId":"k1","messageId":"m1"}`, bridge.CodeInvalidPayload, "k1"},
		{"edit to blank content", "alice", "edit", `{"clientMsgId":"k1","messageId":"m1","content":"  "}`, bridge.CodeInvalidPayload, "k1"},
		{"edit to oversized content", "alice", "edit", `{"clientMsgId":"k1","messageId":"m1","content":"` + strings.Repeat("a", 8001) + `"}`, bridge.CodeTooLarge, "k1"},
		{"edit with NUL", "alice", "edit", `{"clientMsgId":"k1","messageId":"m1","content":"a\u0000b"}`, bridge.CodeInvalidPayload, "k1"},
		{"edit, duplicate key", "alice", "edit", `{"clientMsgId":"k1","messageId":"m1","content":"a","content":"b"}`, bridge.CodeInvalidPayload, ""},
		{"edit, malformed", "alice", "edit", `{"clientMsgId":"k1",`, bridge.CodeInvalidPayload, ""},
		{"delete, empty object", "alice", "delete", `{}`, bridge.CodeInvalidPayload, ""},
		{"delete with content", "alice", "delete", `{"clientMsgId":"k1","messageId":"m1","content":"b"}`, bridge.CodeInvalidPayload, "k1"},
		{"read without ids", "alice", "read", `{}`, bridge.CodeInvalidPayload, ""},
		{"delivered without a message", "alice", "delivered", `{"conversationId":"c1"}`, bridge.CodeInvalidPayload, ""},
		{"read of an invalid message id", "alice", "read", `{"conversationId":"c1","messageId":"m/1"}`, bridge.CodeInvalidPayload, ""},
		{"read with a wildcard conversation", "alice", "read", `{"conversationId":">","messageId":"m1"}`, bridge.CodeInvalidPayload, ""},
		{"read of the wrong type", "alice", "read", `{"conversationId":"c1","messageId":7}`, bridge.CodeInvalidPayload, ""},
		{"read with a key given twice", "alice", "read", `{"conversationId":"c1","messageId":"m1","messageId":"m2"}`, bridge.CodeInvalidPayload, ""},
		{"delivered not JSON", "alice", "delivered", `m1`, bridge.CodeInvalidPayload, ""},
		{"typing without typing", "alice", "typing", `{"conversationId":"c1"}`, bridge.CodeInvalidPayload, ""},
		{"typing, not a boolean", "alice", "typing", `{"conversationId":"c1","typing":1}`, bridge.CodeInvalidPayload, ""},
		{"typing, bad conversation id", "alice", "typing", `{"conversationId":"c 1","typing":true}`, bridge.CodeInvalidPayload, ""},
		{"focus, empty object", "alice", "focus", `{}`, bridge.CodeInvalidPayload, ""},
		{"unfocus, malformed", "alice", "unfocus", `{"conversationId":`, bridge.CodeInvalidPayload, ""},
		{"presence, unknown status", "alice", "presence", `{"status":"busy"}`, bridge.CodeInvalidPayload, ""},
		{"presence, duplicate key", "alice", "presence", `{"status":"online","status":"away"}`, bridge.CodeInvalidPayload, ""},

		{"not UTF-8", "alice", "send", send("\"content\":\"\xff\""), bridge.CodeInvalidPayload, ""},
		{"empty payload", "alice", "send", ``, bridge.CodeInvalidPayload, ""},
		{"malformed JSON", "alice", "send", `{"clientMsgId":"k1",`, bridge.CodeInvalidPayload, ""},
		{"array", "alice", "send", `["a"]`, bridge.CodeInvalidPayload, ""},
		{"string", "alice", "send", `"hello"`, bridge.CodeInvalidPayload, ""},
		{"null", "alice", "send", `null`, bridge.CodeInvalidPayload, ""},
		{"second object after the first", "alice", "send", send(`"content":"a"`) + ` {}`, bridge.CodeInvalidPayload, ""},
		{"number after the object", "alice", "send", send(`"content":"a"`) + `1`, bridge.CodeInvalidPayload, ""},
		{"field of the wrong type", "alice", "send", `{"clientMsgId":1,"conversationId":"c1","content":"a"}`, bridge.CodeInvalidPayload, ""},
		{"missing client id", "alice", "send", `{"conversationId":"c1","content":"a"}`, bridge.CodeInvalidPayload, ""},
		{"client id with space", "alice", "send", `{"clientMsgId":"k 1","conversationId":"c1","content":"a"}`, bridge.CodeInvalidPayload, ""},
		{"client id too long", "alice", "send", `{"clientMsgId":"` + strings.Repeat("k", 65) + `","conversationId":"c1","content":"a"}`, bridge.CodeInvalidPayload, ""},
		{"missing conversation", "alice", "send", `{"clientMsgId":"k1","content":"a"}`, bridge.CodeInvalidPayload, "k1"},
		{"conversation with slash", "alice", "send", `{"clientMsgId":"k1","conversationId":"c/1","content":"a"}`, bridge.CodeInvalidPayload, "k1"},
		{"conversation wildcard", "alice", "send", `{"clientMsgId":"k1","conversationId":">","content":"a"}`, bridge.CodeInvalidPayload, "k1"},
		{"missing content", "alice", "send", send(`"contentType":"text"`), bridge.CodeInvalidPayload, "k1"},
		{"blank content", "alice", "send", send(`"content":" \t\n "`), bridge.CodeInvalidPayload, "k1"},
		{"unknown content type", "alice", "send", send(`"content":"a","contentType":"video"`), bridge.CodeInvalidPayload, "k1"},
		{"content type case matters", "alice", "send", send(`"content":"a","contentType":"Text"`), bridge.CodeInvalidPayload, "k1"},
		{"invalid attachment id", "alice", "send", send(`"content":"a","attachmentId":"../x"`), bridge.CodeInvalidPayload, "k1"},
		{"invalid reply target", "alice", "send", send(`"content":"a","replyTo":"m 1"`), bridge.CodeInvalidPayload, "k1"},
		{"duplicate key", "alice", "send", send(`"content":"a","content":"b"`), bridge.CodeInvalidPayload, ""},
		{"duplicate client id", "alice", "send", send(`"content":"a","clientMsgId":"k2"`), bridge.CodeInvalidPayload, ""},
		{"key in another case", "alice", "send", send(`"content":"a","CONTENT":"b"`), bridge.CodeInvalidPayload, ""},
		{"only a key in another case", "alice", "send", send(`"Content":"b"`), bridge.CodeInvalidPayload, ""},
		{"unknown field given twice", "alice", "send", send(`"content":"a","senderId":"bob","senderId":"eve"`), bridge.CodeInvalidPayload, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, rej := bridge.ParseCommand(app, tc.user, tc.action, []byte(tc.payload), now)
			if e != nil {
				t.Fatalf("accepted: %+v", e)
			}
			if rej == nil {
				t.Fatal("neither an event nor a rejection")
			}
			if rej.Code != tc.code {
				t.Fatalf("code = %q (%s), want %q", rej.Code, rej.Message, tc.code)
			}
			if rej.Action != tc.action {
				t.Fatalf("action = %q, want %q", rej.Action, tc.action)
			}
			if rej.ClientMsgID != tc.clientMsgID {
				t.Fatalf("clientMsgId = %q, want %q", rej.ClientMsgID, tc.clientMsgID)
			}
			if rej.Message == "" {
				t.Fatal("rejection without a message")
			}
			if rej.Error() != rej.Code+": "+rej.Message {
				t.Fatalf("Error() = %q", rej.Error())
			}
		})
	}
}

func TestSenderTypeIsAnonymousOnlyForAnonPrefix(t *testing.T) {
	cases := map[string]events.ActorType{
		"alice":   events.ActorUser,
		"anon-1":  events.ActorAnonymous,
		"anon-":   events.ActorAnonymous,
		"anon":    events.ActorUser,
		"xanon-1": events.ActorUser,
		"Anon-1":  events.ActorUser,
	}
	for user, want := range cases {
		if got := bridge.SenderType(user); got != want {
			t.Errorf("SenderType(%q) = %q, want %q", user, got, want)
		}
	}
}

// FuzzParseCommand: whatever a client publishes, the bridge answers with an
// event whose payload validates, or with a rejection carrying a code.
func FuzzParseCommand(f *testing.F) {
	app := geosector(f)
	f.Add("alice", "send", []byte(`{"clientMsgId":"k1","conversationId":"c1","content":"hi"}`))
	f.Add("anon-1", "send", []byte(`{"clientMsgId":"k1","conversationId":"c1","content":"","attachmentId":"f1","contentType":"file"}`))
	f.Add("alice", "send", []byte(`{"clientMsgId":"k1","conversationId":"c1","content":"hi"} {}`))
	f.Add("alice", "send", []byte(`{"clientMsgId":"k1","conversationId":"c1","content":"\u00e9\ud800"}`))
	f.Add("alice", "typing", []byte(`{"conversationId":"c1","typing":true}`))
	f.Add("alice", "edit", []byte(`{"clientMsgId":"k2","messageId":"m1","content":"hi"}`))
	f.Add("alice", "delete", []byte(`{"clientMsgId":"k3","messageId":"m1"}`))
	f.Add("a/b", "send", []byte(`null`))
	f.Add("alice", "dance", []byte("\xff"))
	codes := map[string]bool{bridge.CodeInvalidPayload: true, bridge.CodeTooLarge: true, bridge.CodeUnsupported: true, bridge.CodeForbidden: true}
	f.Fuzz(func(t *testing.T, user, action string, payload []byte) {
		cmd, rej := bridge.ParseCommand(app, user, action, payload, now)
		if (cmd == nil) == (rej == nil) {
			t.Fatalf("want exactly one of command and rejection, got %v and %v", cmd, rej)
		}
		if rej != nil {
			if !codes[rej.Code] || rej.Action != action {
				t.Fatalf("rejection %+v", rej)
			}
			return
		}
		if action == "edit" || action == "delete" {
			if c := cmd.Decided; c == nil || c.Actor.ID != user || !events.ValidID(c.MessageID) || !events.ValidID(c.EventID) ||
				len(c.Content) > app.Limits.MaxContentBytes {
				t.Fatalf("accepted %s %+v from %q", action, c, user)
			}
			return
		}
		if l := cmd.Live; l != nil {
			if cmd.Event != nil || l.User != user || l.Kind != action || l.Status == "" && !events.ValidID(l.ConversationID) {
				t.Fatalf("accepted live %s %+v from %q", action, l, user)
			}
			return
		}
		if action != "send" {
			t.Fatalf("action %q produced an event", action)
		}
		e := cmd.Event
		p, err := e.Payload()
		if err != nil {
			t.Fatalf("accepted event has an invalid payload: %v", err)
		}
		m, ok := p.(*events.MessagePosted)
		if !ok || m.SenderID != user || e.Actor.ID != user || e.ID != m.MessageID {
			t.Fatalf("accepted %T %+v from %q", p, p, user)
		}
		if len(m.Content) > app.Limits.MaxContentBytes {
			t.Fatalf("accepted content of %d bytes", len(m.Content))
		}
		b, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		d, err := events.Decode(b)
		if err != nil {
			t.Fatalf("accepted event does not decode: %v", err)
		}
		if _, err := d.Payload(); err != nil {
			t.Fatalf("accepted event's stored payload is invalid: %v", err)
		}
	})
}

func TestSendRejectionsNameTheFieldNotGoTypes(t *testing.T) {
	for payload, want := range map[string]string{
		`{"clientMsgId":1}`: "payload: clientMsgId: expected a string, got a number",
		`{"clientMsgId":"k1","content":"a","CONTENT":"b"}`: `payload: CONTENT: unknown field; field names are case-sensitive: "content"`,
		`{"clientMsgId":"k1","content":"a","content":"b"}`: "payload: content: appears more than once",
	} {
		_, rej := bridge.ParseCommand(geosector(t), "alice", "send", []byte(payload), now)
		if rej == nil || rej.Message != want {
			t.Errorf("%s: rejection %v, want %q", payload, rej, want)
		}
	}
}

func TestParseCommandRefusesTrailingClosers(t *testing.T) {
	for _, tail := range []string{"}", "]", " x"} {
		payload := []byte(`{"clientMsgId":"x","conversationId":"c","content":"hi"}` + tail)
		if _, rej := bridge.ParseCommand(geosector(t), "alice", "send", payload, now); rej == nil || rej.Code != bridge.CodeInvalidPayload {
			t.Errorf("trailing %q: got %v, want invalid_payload", tail, rej)
		}
	}
}

func TestEditAndDeleteRedeliveriesAreOneCommand(t *testing.T) {
	edit := []byte(`{"clientMsgId":"k2","messageId":"m1","content":"hi again"}`)
	a, _ := bridge.ParseCommand(geosector(t), "alice", "edit", edit, now)
	b, _ := bridge.ParseCommand(geosector(t), "alice", "edit", edit, now.Add(time.Hour))
	c, _ := bridge.ParseCommand(geosector(t), "bob", "edit", edit, now)
	d, _ := bridge.ParseCommand(geosector(t), "alice", "delete", []byte(`{"clientMsgId":"k2","messageId":"m1"}`), now)
	if a == nil || b == nil || c == nil || d == nil {
		t.Fatal("a valid edit or delete was refused")
	}
	if a.Decided.EventID != b.Decided.EventID {
		t.Fatalf("a redelivered edit got a new event id: %s vs %s", a.Decided.EventID, b.Decided.EventID)
	}
	if a.Decided.EventID == c.Decided.EventID || a.Decided.EventID == d.Decided.EventID {
		t.Fatal("another user's edit, or a delete with the same client id, shares the event id")
	}
	if a.Decided.Content != "hi again" || a.Decided.MessageID != "m1" || a.Decided.Actor.ID != "alice" {
		t.Fatalf("edit parsed as %+v", a.Decided)
	}
}
