package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

func validCreated() *events.ConversationCreated {
	return &events.ConversationCreated{ConversationID: "c1", Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll,
		CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleMember}, {UserID: "bob", Role: events.RoleMember}}}
}

func validPosted() *events.MessagePosted {
	return &events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "alice",
		SenderType: events.ActorUser, Content: "hi", ContentType: events.ContentText}
}

func validModerated() *events.MessageModerated {
	return &events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "alice", ClientMsgID: "k1", Status: events.StatusApproved}
}

func TestPayloadRejectsInvalidPayloads(t *testing.T) {
	cases := []struct {
		name string
		p    events.Payload
		want string // part of the error naming the field
	}{
		{"created: conversation id with slash", func() events.Payload { p := validCreated(); p.ConversationID = "c/1"; return p }(), "conversationId"},
		{"created: empty conversation id", func() events.Payload { p := validCreated(); p.ConversationID = ""; return p }(), "conversationId"},
		{"created: creator with space", func() events.Payload { p := validCreated(); p.CreatedBy = "ali ce"; return p }(), "createdBy"},
		{"created: unknown kind", func() events.Payload { p := validCreated(); p.Kind = "channel"; return p }(), "type"},
		{"created: empty kind", func() events.Payload { p := validCreated(); p.Kind = ""; return p }(), "type"},
		{"created: unknown reply permission", func() events.Payload { p := validCreated(); p.ReplyPermission = "some"; return p }(), "replyPermission"},
		{"created: empty reply permission", func() events.Payload { p := validCreated(); p.ReplyPermission = ""; return p }(), "replyPermission"},
		{"created: no members", func() events.Payload { p := validCreated(); p.Members = nil; return p }(), "members"},
		{"created: member with invalid id", func() events.Payload {
			p := validCreated()
			p.Members[1].UserID = "bob.smith"
			return p
		}(), "members[1].userId"},
		{"created: member with unknown role", func() events.Payload {
			p := validCreated()
			p.Members[0].Role = "owner"
			return p
		}(), "members[0].role"},
		{"created: member with empty role", func() events.Payload {
			p := validCreated()
			p.Members[1].Role = ""
			return p
		}(), "members[1].role"},
		{"created: duplicate member", func() events.Payload {
			p := validCreated()
			p.Members = append(p.Members, events.Member{UserID: "alice", Role: events.RoleAdmin})
			return p
		}(), "listed twice"},

		{"joined: invalid user", &events.MemberJoined{ConversationID: "c1", UserID: "#", Role: events.RoleMember, AddedBy: "alice"}, "userId"},
		{"joined: invalid conversation", &events.MemberJoined{ConversationID: "c+1", UserID: "bob", Role: events.RoleMember, AddedBy: "alice"}, "conversationId"},
		{"joined: missing adder", &events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: events.RoleMember}, "addedBy"},
		{"joined: unknown role", &events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: "Admin", AddedBy: "alice"}, "role"},

		{"left: invalid user", &events.MemberLeft{ConversationID: "c1", UserID: "bob*", RemovedBy: "alice"}, "userId"},
		{"left: missing remover", &events.MemberLeft{ConversationID: "c1", UserID: "bob"}, "removedBy"},
		{"left: missing conversation", &events.MemberLeft{UserID: "bob", RemovedBy: "bob"}, "conversationId"},

		{"posted: missing message id", func() events.Payload { p := validPosted(); p.MessageID = ""; return p }(), "messageId"},
		{"posted: client id with dot", func() events.Payload { p := validPosted(); p.ClientMsgID = "k.1"; return p }(), "clientMsgId"},
		{"posted: invalid conversation", func() events.Payload { p := validPosted(); p.ConversationID = "c 1"; return p }(), "conversationId"},
		{"posted: invalid sender", func() events.Payload { p := validPosted(); p.SenderID = "bob/../alice"; return p }(), "senderId"},
		{"posted: unknown content type", func() events.Payload { p := validPosted(); p.ContentType = "video"; return p }(), "contentType"},
		{"posted: empty content type", func() events.Payload { p := validPosted(); p.ContentType = ""; return p }(), "contentType"},
		{"posted: invalid attachment", func() events.Payload { p := validPosted(); p.AttachmentID = "../etc/passwd"; return p }(), "attachmentId"},
		{"posted: invalid reply target", func() events.Payload { p := validPosted(); p.ReplyTo = "m 1"; return p }(), "replyTo"},

		{"moderated: unknown status", func() events.Payload { p := validModerated(); p.Status = "maybe"; return p }(), "status"},
		{"moderated: empty status", func() events.Payload { p := validModerated(); p.Status = ""; return p }(), "status"},
		{"moderated: invalid sender", func() events.Payload { p := validModerated(); p.SenderID = ""; return p }(), "senderId"},
		{"moderated: invalid client id", func() events.Payload { p := validModerated(); p.ClientMsgID = strings.Repeat("k", 65); return p }(), "clientMsgId"},

		{"created: NUL in title", func() events.Payload { p := validCreated(); p.Title = "team\x00"; return p }(), "title"},
		{"posted: NUL in content", func() events.Payload { p := validPosted(); p.Content = "a\x00b"; return p }(), "content"},
		{"posted: unknown sender type", func() events.Payload { p := validPosted(); p.SenderType = "robot"; return p }(), "senderType"},
		{"posted: empty sender type", func() events.Payload { p := validPosted(); p.SenderType = ""; return p }(), "senderType"},
		{"moderated: NUL in reason", func() events.Payload { p := validModerated(); p.Reason = "\x00"; return p }(), "reason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if err == nil {
				t.Fatalf("Validate accepted %#v", tc.p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
			var invalid *events.InvalidError
			if _, err := events.New("e1", "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, tc.p); !errors.As(err, &invalid) {
				t.Fatalf("New: got %v, want an InvalidError", err)
			}
			// The same payload stored by a producer that skipped validation.
			e, err := events.Decode(encodeUnchecked(t, tc.p))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if p, err := e.Payload(); err == nil {
				t.Fatalf("Payload accepted %#v", p)
			}
		})
	}
}

func TestValidPayloadsAreAccepted(t *testing.T) {
	cases := []struct {
		name string
		p    events.Payload
	}{
		{"one to one of members", validCreated()},
		{"broadcast with no replies", func() events.Payload {
			p := validCreated()
			p.Kind, p.ReplyPermission = events.KindBroadcast, events.ReplyNone
			return p
		}()},
		{"posted without optional ids", validPosted()},
		{"posted file with attachment and no text", func() events.Payload {
			p := validPosted()
			p.Content, p.ContentType, p.AttachmentID = "", events.ContentFile, "f-1_A"
			return p
		}()},
		{"moderated pending", func() events.Payload { p := validModerated(); p.Status = events.StatusPending; return p }()},
	}
	for _, tc := range cases {
		if err := tc.p.Validate(); err != nil {
			t.Errorf("%s: Validate refused a valid payload: %v", tc.name, err)
		}
	}
}

func TestRoleValidAcceptsOnlyKnownRoles(t *testing.T) {
	for _, r := range []events.Role{events.RoleAdmin, events.RoleMember, events.RoleReadOnly} {
		if !r.Valid() {
			t.Errorf("%q should be valid", r)
		}
	}
	for _, r := range []events.Role{"", "Admin", "owner", "super_admin"} {
		if r.Valid() {
			t.Errorf("%q should be refused", r)
		}
	}
}

func TestReplyPermissionValidAcceptsOnlyKnownValues(t *testing.T) {
	for _, p := range []events.ReplyPermission{events.ReplyAll, events.ReplyAdminsOnly, events.ReplySenderOnly, events.ReplyNone} {
		if !p.Valid() {
			t.Errorf("%q should be valid", p)
		}
	}
	for _, p := range []events.ReplyPermission{"", "ALL", "members", "admins"} {
		if p.Valid() {
			t.Errorf("%q should be refused", p)
		}
	}
}

func TestTypeDottedLowerCasesAndSeparatesWords(t *testing.T) {
	cases := map[events.Type]string{
		events.TypeConversationCreated: "conversation.created",
		events.TypeMemberJoined:        "member.joined",
		events.TypeMemberLeft:          "member.left",
		events.TypeMessagePosted:       "message.posted",
		events.TypeMessageModerated:    "message.moderated",
		"ReadReceipt":                  "read.receipt",
		"AnnouncementTargeted":         "announcement.targeted",
		"lower":                        "lower",
		"":                             "",
	}
	for typ, want := range cases {
		if got := typ.Dotted(); got != want {
			t.Errorf("%q.Dotted() = %q, want %q", typ, got, want)
		}
	}
}

func TestEveryCatalogueTypeHasALowerCaseDottedSubjectToken(t *testing.T) {
	seen := map[string]events.Type{}
	for _, typ := range events.Types {
		d := typ.Dotted()
		if d != strings.ToLower(d) || strings.ContainsAny(d, " *>") {
			t.Errorf("%s.Dotted() = %q is not a lower-case subject tail", typ, d)
		}
		if other, dup := seen[d]; dup {
			t.Errorf("%s and %s share subject tail %q", typ, other, d)
		}
		seen[d] = typ
	}
}

// encodeUnchecked stores a payload as a producer that bypasses New would.
func encodeUnchecked(t *testing.T, p events.Payload) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": "e1", "type": p.EventType(), "v": events.Version, "app": "geosector",
		"at": at, "actor": events.Actor{ID: "alice", Type: events.ActorUser}, "data": p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTextFieldsRefuseWhatPostgreSQLCannotStore(t *testing.T) {
	fields := map[string]func(string) events.Payload{
		"title":   func(s string) events.Payload { p := validCreated(); p.Title = s; return p },
		"content": func(s string) events.Payload { p := validPosted(); p.Content = s; return p },
		"reason":  func(s string) events.Payload { p := validModerated(); p.Reason = s; return p },
	}
	bad := map[string]string{
		"NUL alone":          "\x00",
		"NUL first":          "\x00hello",
		"NUL last":           "hello\x00",
		"NUL between runes":  "é\x00👋",
		"invalid byte":       "a\xffb",
		"surrogate as UTF-8": "\xed\xa0\x80",
		"truncated rune":     "\xe2\x82",
	}
	good := []string{"", "hello", "é 👋", "\u2028", "\ufffd", "\x01\x1f\x7f", strings.Repeat("ü", 1000)}
	for field, with := range fields {
		for name, s := range bad {
			err := with(s).Validate()
			if err == nil || !strings.HasPrefix(err.Error(), field+": ") {
				t.Errorf("%s with %s: got %v, want an error naming %s", field, name, err, field)
			}
		}
		for _, s := range good {
			if err := with(s).Validate(); err != nil {
				t.Errorf("%s %q refused: %v", field, s, err)
			}
		}
	}
}

func TestNewRefusesAnInvalidApp(t *testing.T) {
	var invalid *events.InvalidError
	for _, app := range []string{"", "geo sector", "geo\x00"} {
		if _, err := events.New("e1", app, at, events.Actor{ID: "alice", Type: events.ActorUser}, validPosted()); !errors.As(err, &invalid) {
			t.Errorf("app %q: got %v, want an InvalidError", app, err)
		}
	}
}
