package decide_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

func uploadedBy(user, id string) *events.FileUploaded {
	return &events.FileUploaded{FileID: id, ConversationID: "c1", UploaderID: user, Name: "a.png", ContentType: "image/png",
		Size: 10, SHA256: strings.Repeat("0", 64)}
}

func carrying(id, file string, status events.ModerationStatus) []events.Payload {
	return []events.Payload{
		&events.MessagePosted{MessageID: id, ClientMsgID: "k" + id, ConversationID: "c1", SenderID: "bob", SenderType: events.ActorUser,
			ContentType: events.ContentImage, AttachmentID: file},
		&events.MessageModerated{MessageID: id, ConversationID: "c1", SenderID: "bob", ClientMsgID: "k" + id, Status: status},
	}
}

func TestReadFileIsForTheUploaderAndTheMembersItWasPostedTo(t *testing.T) {
	up := append(group(), uploadedBy("bob", "f1"))
	posted := append(append(group(), uploadedBy("bob", "f1")), carrying("m1", "f1", events.StatusApproved)...)
	rejected := append(append(group(), uploadedBy("bob", "f1")), carrying("m1", "f1", events.StatusRejected)...)
	deleted := append(append([]events.Payload{}, posted...), &events.MessageDeleted{MessageID: "m1", ConversationID: "c1",
		ClientMsgID: "d1", DeletedBy: "bob", Message: events.Posting{ClientMsgID: "km1", SenderID: "bob", PostedSeq: 3}})
	left := append(append([]events.Payload{}, posted...), &events.MemberLeft{ConversationID: "c1", UserID: "rita", RemovedBy: "alice"})
	expired := append(append(group(), uploadedBy("bob", "f1")), &events.FileExpired{FileID: "f1", ConversationID: "c1"})
	for _, tc := range []struct {
		name  string
		log   []events.Payload
		actor string
		want  string
	}{
		{"uploader before posting", up, "bob", ""},
		{"member before posting", up, "alice", decide.CodeNotFound},
		{"stranger before posting", up, "mallory", decide.CodeNotMember},
		{"member once posted", posted, "alice", ""},
		{"read-only member once posted", posted, "rita", ""},
		{"stranger once posted", posted, "mallory", decide.CodeNotMember},
		{"member who left", left, "rita", decide.CodeNotMember},
		{"member when moderation refused it", rejected, "alice", decide.CodeNotFound},
		{"member once the message is deleted", deleted, "alice", decide.CodeNotFound},
		{"uploader once it expired", expired, "bob", decide.CodeNotFound},
		{"unknown file", group(), "alice", decide.CodeNotFound},
	} {
		if _, err := decide.ReadFile(fold(t, tc.log...), tc.actor, "f1"); code(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestOnlyMembersWhoMayPostUpload(t *testing.T) {
	for actor, want := range map[string]string{"alice": "", "bob": "", "rita": decide.CodeReplyNotAllowed, "mallory": decide.CodeNotMember} {
		if err := decide.UploadFile(fold(t, group()...), actor); code(err) != want {
			t.Errorf("%s uploads: %v, want %q", actor, err, want)
		}
	}
	if err := decide.UploadFile(fold(t), "alice"); code(err) != decide.CodeNotFound {
		t.Errorf("upload to no conversation: %v", err)
	}
}

func TestTheSameBytesUnderTheSameNameAreTheSameUpload(t *testing.T) {
	s := fold(t, append(group(), uploadedBy("bob", "f1"))...)
	if f := decide.SameUpload(s, "bob", "a.png", strings.Repeat("0", 64)); f == nil || f.ID != "f1" {
		t.Fatalf("a repeat of f1: %v", f)
	}
	for _, tc := range []struct{ who, name, sum string }{
		{"alice", "a.png", strings.Repeat("0", 64)}, {"bob", "b.png", strings.Repeat("0", 64)}, {"bob", "a.png", strings.Repeat("1", 64)},
	} {
		if f := decide.SameUpload(s, tc.who, tc.name, tc.sum); f != nil {
			t.Errorf("%+v found %s", tc, f.ID)
		}
	}
	gone := fold(t, append(group(), uploadedBy("bob", "f1"), &events.FileExpired{FileID: "f1", ConversationID: "c1"})...)
	if f := decide.SameUpload(gone, "bob", "a.png", strings.Repeat("0", 64)); f != nil {
		t.Fatal("an expired upload counts as the same")
	}
}

func TestOnlyUnreferencedOldUploadsExpire(t *testing.T) {
	// fold stamps event i at at+i seconds: the upload is at at+1s.
	up := append(group(), uploadedBy("bob", "f1"))
	later, before := at.Add(time.Hour), at
	if p := decide.ExpireFile(fold(t, up...), "f1", later); p == nil || p.FileID != "f1" {
		t.Fatalf("an old orphan: %v, want it expired", p)
	}
	if p := decide.ExpireFile(fold(t, up...), "f1", before); p != nil {
		t.Fatal("an upload younger than the cutoff expired")
	}
	for _, status := range []events.ModerationStatus{events.StatusApproved, events.StatusRejected} {
		if p := decide.ExpireFile(fold(t, append(up, carrying("m1", "f1", status)...)...), "f1", later); p != nil {
			t.Fatalf("a file a %s message carries expired", status)
		}
	}
	gone := append(up, &events.FileExpired{FileID: "f1", ConversationID: "c1"})
	if p := decide.ExpireFile(fold(t, gone...), "f1", later); p != nil {
		t.Fatal("an expired file expired again")
	}
}
