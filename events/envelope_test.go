package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
)

var at = time.Date(2026, 11, 21, 10, 0, 0, 123456000, time.UTC)

// samples holds one valid payload of every event type in the catalogue.
func samples() map[events.Type]events.Payload {
	return map[events.Type]events.Payload{
		events.TypeConversationCreated: &events.ConversationCreated{
			ConversationID: "c1", Kind: events.KindGroup, Title: "Équipe", ReplyPermission: events.ReplyAll,
			CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}},
		},
		events.TypeMemberJoined: &events.MemberJoined{ConversationID: "c1", UserID: "carol", Role: events.RoleReadOnly, AddedBy: "alice"},
		events.TypeMemberLeft:   &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "alice"},
		events.TypeMessagePosted: &events.MessagePosted{
			MessageID: events.MessageID("geosector", "alice", "k1"), ClientMsgID: "k1", ConversationID: "c1",
			SenderID: "alice", SenderType: events.ActorUser, Content: "bonjour <b>&</b> 👋", ContentType: events.ContentImage,
			AttachmentID: "f1", ReplyTo: "m0",
		},
		events.TypeMessageModerated: &events.MessageModerated{
			MessageID: "m1", ConversationID: "c1", SenderID: "alice", ClientMsgID: "k1",
			Status: events.StatusRejected, Reason: events.ReasonBadWords, PostedSeq: 42,
		},
		events.TypeMessageEdited: &events.MessageEdited{MessageID: "m1", ConversationID: "c1", ClientMsgID: "k2",
			Content: "bonjour, édité", Message: events.Posting{ClientMsgID: "k1", SenderID: "alice", SenderType: events.ActorUser,
				ContentType: events.ContentText, PostedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), PostedSeq: 41}},
		events.TypeMessageDeleted: &events.MessageDeleted{MessageID: "m1", ConversationID: "c1", ClientMsgID: "k3", DeletedBy: "bob",
			Message: events.Posting{ClientMsgID: "k1", SenderID: "alice", SenderType: events.ActorUser,
				ContentType: events.ContentText, PostedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), PostedSeq: 41}},
		events.TypeDeliveryReceipt: &events.DeliveryReceipt{Receipt: events.Receipt{ConversationID: "c1", UserID: "bob",
			MessageID: "m1", MessageSeq: 41, Senders: []string{"alice"}}},
		events.TypeReadReceipt: &events.ReadReceipt{Receipt: events.Receipt{ConversationID: "c1", UserID: "bob",
			MessageID: "m1", MessageSeq: 41}},
		events.TypeServiceAccountCreated: &events.ServiceAccountCreated{Name: "support-bot"},
		events.TypeWebhooksChanged: &events.WebhooksChanged{Webhooks: []events.Webhook{{ID: "audit", URL: "https://hooks.example.com/chat",
			Events: []string{"message.posted"}, SealedSecret: "v1.c2VhbGVk"}}},
		events.TypeModerationRulesChanged: &events.ModerationRulesChanged{Rules: events.ModerationRules{Enabled: true,
			BadWords: []string{"idiot"}, BadWordsAction: events.ActionReject, FloodWindowSeconds: 10}},
		events.TypeConversationUpdated: &events.ConversationUpdated{ConversationID: "c1", Kind: events.KindGroup,
			Title: "Équipe terrain", Settings: events.Settings{"color": "#f80", "muteAll": false, "slowMode": 30.0},
			ReplyPermission: events.ReplyAdminsOnly, Pinned: true, CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice"},
		events.TypeParticipantUpdated: &events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleReadOnly,
			CanReply: new(bool), UpdatedBy: "alice"},
		events.TypeGroupCreated:       &events.GroupCreated{GroupID: "g1", Name: "Équipe nord", CreatedBy: "alice"},
		events.TypeGroupUpdated:       &events.GroupUpdated{GroupID: "g1", Name: "Équipe sud", By: "alice"},
		events.TypeGroupJoinRequested: &events.GroupJoinRequested{GroupID: "g1", UserID: "bob"},
		events.TypeGroupJoinRefused:   &events.GroupJoinRefused{GroupID: "g1", UserID: "bob", By: "alice"},
		events.TypeGroupMemberJoined:  &events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleMember, By: "alice"},
		events.TypeGroupMemberLeft:    &events.GroupMemberLeft{GroupID: "g1", UserID: "bob", By: "bob"},
		events.TypeNotificationsRead:  &events.NotificationsRead{UserID: "bob", UpTo: 42},
		events.TypeSettingsChanged: &events.SettingsChanged{UserID: "bob", Settings: events.UserSettings{
			MutedConversations: []string{"c1", "c2"}, Notifications: events.Notifications{Enabled: true}}},
		events.TypeDirectoryUsersUpdated: validDirectory(),
		events.TypeAnnouncementTargeted:  validTargeted(),
		events.TypeAnonymousUserCreated: &events.AnonymousUserCreated{ConversationID: "a1", AnonymousID: "anon-1",
			ProfessionalID: "pro", Name: "Zoé", Email: "zoe@example.org", Metadata: map[string]string{"page": "/tarifs"}},
		events.TypeAnonymousConverted: &events.AnonymousConverted{ConversationID: "a1", AnonymousID: "anon-1",
			UserID: "client-7", ConvertedBy: "pro"},
		events.TypeFileUploaded: &events.FileUploaded{FileID: "f1", ConversationID: "c1", UploaderID: "alice", Name: "plan été.pdf",
			ContentType: "application/pdf", Size: 1234, SHA256: strings.Repeat("ab", 32)},
		events.TypeFileExpired: &events.FileExpired{FileID: "f1", ConversationID: "c1"},
		events.TypeConversationTransferred: &events.ConversationTransferred{ConversationID: "a1", FromUserIDs: []string{"pro"},
			ToUserID: "pro2", TransferredBy: "pro"},
	}
}

func mustEncode(t *testing.T, p events.Payload) []byte {
	t.Helper()
	e, err := events.New("e1", "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
	if err != nil {
		t.Fatalf("New(%s): %v", p.EventType(), err)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatalf("Encode(%s): %v", p.EventType(), err)
	}
	return b
}

func TestEverySampleCoversTheCatalogue(t *testing.T) {
	s := samples()
	if len(s) != len(events.Types) {
		t.Fatalf("samples cover %d types, catalogue has %d", len(s), len(events.Types))
	}
	for _, typ := range events.Types {
		p, ok := s[typ]
		if !ok {
			t.Fatalf("no sample for %s", typ)
		}
		if p.EventType() != typ {
			t.Fatalf("sample for %s reports type %s", typ, p.EventType())
		}
	}
}

func TestEveryEventTypeRoundTripsThroughDecodeAndPayload(t *testing.T) {
	for typ, want := range samples() {
		t.Run(string(typ), func(t *testing.T) {
			if err := want.Validate(); err != nil {
				t.Fatalf("sample is invalid: %v", err)
			}
			e, err := events.Decode(mustEncode(t, want))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if e.ID != "e1" || e.Type != typ || e.V != events.Version || e.App != "geosector" ||
				!e.At.Equal(at) || e.Actor != (events.Actor{ID: "alice", Type: events.ActorUser}) {
				t.Fatalf("envelope header changed: %+v", e)
			}
			got, err := e.Payload()
			if err != nil {
				t.Fatalf("Payload: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("payload changed:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestEnvelopeStoresTheDocumentedFieldNames(t *testing.T) {
	b := mustEncode(t, samples()[events.TypeMemberLeft])
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "v", "app", "at", "actor", "data"} {
		if _, ok := m[k]; !ok {
			t.Errorf("stored envelope lacks %q: %s", k, b)
		}
	}
	if len(m) != 7 {
		t.Errorf("stored envelope has %d fields, want 7 (seq is not stored): %s", len(m), b)
	}
	if string(m["type"]) != `"MemberLeft"` || string(m["v"]) != "1" {
		t.Errorf("type/v = %s/%s", m["type"], m["v"])
	}
}

func TestNewStoresTimeInUTC(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	e, err := events.New("e1", "geosector", at.In(paris), events.Actor{ID: "alice", Type: events.ActorUser}, samples()[events.TypeMemberLeft])
	if err != nil {
		t.Fatal(err)
	}
	if e.At.Location() != time.UTC || !e.At.Equal(at) {
		t.Fatalf("At = %v, want %v in UTC", e.At, at)
	}
}

func TestPayloadOfNewEnvelopeIsTheGivenPayload(t *testing.T) {
	p := samples()[events.TypeMemberJoined]
	e, err := events.New("e1", "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Payload()
	if err != nil || got != p {
		t.Fatalf("Payload() = %v, %v; want the same payload", got, err)
	}
}

// envelopeJSON builds stored bytes with some fields replaced or removed (a
// nil value removes the field).
func envelopeJSON(t *testing.T, change map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"id": "e1", "type": "MemberLeft", "v": 1, "app": "geosector", "at": at,
		"actor": map[string]string{"id": "alice", "type": "user"},
		"data":  map[string]string{"conversationId": "c1", "userId": "bob", "removedBy": "alice"},
	}
	for k, v := range change {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAcceptsTheBaseEnvelope(t *testing.T) {
	e, err := events.Decode(envelopeJSON(t, nil))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if _, err := e.Payload(); err != nil {
		t.Fatalf("Payload: %v", err)
	}
}

func TestDecodeRejectsIncompleteEnvelopes(t *testing.T) {
	cases := []struct {
		name   string
		change map[string]any
		want   string
	}{
		{"missing id", map[string]any{"id": nil}, "missing id"},
		{"empty id", map[string]any{"id": ""}, "missing id"},
		{"missing type", map[string]any{"type": nil}, "missing type"},
		{"empty type", map[string]any{"type": ""}, "missing type"},
		{"missing version", map[string]any{"v": nil}, "unsupported version 0"},
		{"version zero", map[string]any{"v": 0}, "unsupported version 0"},
		{"negative version", map[string]any{"v": -1}, "unsupported version -1"},
		{"future version", map[string]any{"v": events.Version + 1}, "unsupported version"},
		{"missing app", map[string]any{"app": nil}, "invalid app"},
		{"app with dot", map[string]any{"app": "geo.sector"}, "invalid app"},
		{"app with slash", map[string]any{"app": "geo/sector"}, "invalid app"},
		{"app too long", map[string]any{"app": strings.Repeat("a", 65)}, "invalid app"},
		{"missing data", map[string]any{"data": nil}, "missing data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := events.Decode(envelopeJSON(t, tc.change))
			if err == nil {
				t.Fatalf("Decode accepted %+v", e)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestDecodeRejectsWhatIsNotAnEnvelope(t *testing.T) {
	for _, b := range []string{``, `null x`, `[]`, `"envelope"`, `{"id":`, `{"id":1,"type":"MemberLeft","v":1,"app":"a","data":{}}`,
		`{"id":"e","type":"MemberLeft","v":"1","app":"a","data":{}}`, `{"id":"e","type":"MemberLeft","v":1,"app":"a","at":"yesterday","data":{}}`} {
		if e, err := events.Decode([]byte(b)); err == nil {
			t.Errorf("Decode(%q) accepted %+v", b, e)
		}
	}
}

func TestDecodeLeavesUnknownTypesToPayload(t *testing.T) {
	e, err := events.Decode(envelopeJSON(t, map[string]any{"type": "FutureThing"}))
	if err != nil {
		t.Fatalf("Decode refused an unknown type (routers must be able to skip it): %v", err)
	}
	if _, err := e.Payload(); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Payload error = %v, want ErrUnknownType", err)
	}
	if _, err := e.Subject(); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Subject error = %v, want ErrUnknownType", err)
	}
}

func TestPayloadRejectsDataOfTheWrongShape(t *testing.T) {
	for _, data := range []any{"text", 12, []int{1}, map[string]any{"conversationId": 5, "userId": "bob", "removedBy": "alice"}} {
		e, err := events.Decode(envelopeJSON(t, map[string]any{"data": data}))
		if err != nil {
			t.Fatalf("Decode(%v): %v", data, err)
		}
		if p, err := e.Payload(); err == nil {
			t.Errorf("Payload accepted data %v as %#v", data, p)
		}
	}
}

func TestSubjectOfDecodedEnvelope(t *testing.T) {
	e, err := events.Decode(envelopeJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Subject()
	if err != nil {
		t.Fatal(err)
	}
	if want := "chat.evt.geosector.conv.c1.member.left"; s != want {
		t.Fatalf("Subject() = %q, want %q", s, want)
	}
}

func TestSeqIsNeverStored(t *testing.T) {
	e, err := events.Decode(envelopeJSON(t, map[string]any{"seq": 99, "Seq": 99}))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 0 {
		t.Fatalf("Seq = %d read from stored bytes; the stream assigns it", e.Seq)
	}
	e.Seq = 7
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToLower(b), []byte(`"seq"`)) {
		t.Fatalf("Encode wrote seq: %s", b)
	}
}

// FuzzDecode feeds arbitrary bytes to Decode and Payload: nothing panics, and
// every envelope that decodes encodes again to bytes that decode to the same
// envelope.
func FuzzDecode(f *testing.F) {
	for _, p := range samples() {
		e, err := events.New("e1", "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			f.Fatal(err)
		}
		b, err := e.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`,
		`{"id":"e","type":"MemberLeft","v":1,"app":"a","data":null}`,
		`{"id":"e","type":"X","v":1,"app":"a","at":"2026-01-01T00:00:00+14:00","data":{"a":"<\u00e9>"}}`,
		`{"id":"e\xff","type":"MemberJoined","v":1,"app":"a","data":{"conversationId":"c","userId":"u","role":"admin","addedBy":"x"}, "ID":"f"}`,
		`{"id":"e","type":"ConversationCreated","v":1,"app":"a","data":{"conversationId":"c","type":"group","replyPermission":"all","createdBy":"u","members":[{"userId":"u","role":"admin"},{"userId":"u","role":"member"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.Decode(b)
		if err != nil {
			if e != nil {
				t.Fatalf("Decode returned an envelope with error %v", err)
			}
			return
		}
		p, perr := e.Payload()
		if perr == nil {
			if p == nil || p.EventType() != e.Type {
				t.Fatalf("Payload() = %#v for type %s", p, e.Type)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("Payload returned an invalid payload: %v", err)
			}
			s, err := e.Subject()
			if err != nil || s != events.SubjectOf(e.App, p) {
				t.Fatalf("Subject() = %q, %v", s, err)
			}
		}

		b2, err := e.Encode()
		if err != nil {
			t.Fatalf("decoded envelope does not encode: %v", err)
		}
		e2, err := events.Decode(b2)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v\n%s", err, b2)
		}
		if e2.ID != e.ID || e2.Type != e.Type || e2.V != e.V || e2.App != e.App || e2.Actor != e.Actor ||
			!e2.At.Equal(e.At) || e2.At.String() != e.At.String() {
			t.Fatalf("header changed through a round trip:\n%+v\n%+v", e, e2)
		}
		d1, _ := json.Marshal(e.Data)
		d2, _ := json.Marshal(e2.Data)
		if !bytes.Equal(d1, d2) {
			t.Fatalf("data changed through a round trip: %s -> %s", d1, d2)
		}
		b3, err := e2.Encode()
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not stable: %s -> %s (%v)", b2, b3, err)
		}
		p2, perr2 := e2.Payload()
		if (perr == nil) != (perr2 == nil) {
			t.Fatalf("payload validity changed through a round trip: %v -> %v", perr, perr2)
		}
		if perr == nil && !reflect.DeepEqual(p, p2) {
			t.Fatalf("payload changed through a round trip:\n%#v\n%#v", p, p2)
		}
	})
}

func TestDecodeRefusesNullData(t *testing.T) {
	_, err := events.Decode([]byte(`{"id":"e1","type":"MemberLeft","v":1,"app":"geosector","at":"2026-11-21T10:00:00Z","actor":{"id":"a","type":"user"},"data":null}`))
	if err == nil {
		t.Fatal("an envelope with null data decoded")
	}
}
