package moderation_test

import (
	"testing"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/moderation"
)

func TestAttachmentsMustBeTheSendersUploadForTheSameConversation(t *testing.T) {
	m := &events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "bob", SenderType: events.ActorUser,
		ContentType: events.ContentImage, AttachmentID: "f1"}
	ok := moderation.Decision{Status: events.StatusApproved}
	for _, tc := range []struct {
		name string
		d    moderation.Decision
		u    *moderation.Upload
		want events.ModerationStatus
	}{
		{"the sender's upload here", ok, &moderation.Upload{ConversationID: "c1", UploaderID: "bob"}, events.StatusApproved},
		{"no such upload", ok, nil, events.StatusRejected},
		{"another's upload", ok, &moderation.Upload{ConversationID: "c1", UploaderID: "alice"}, events.StatusRejected},
		{"an upload for another conversation", ok, &moderation.Upload{ConversationID: "c2", UploaderID: "bob"}, events.StatusRejected},
		{"an expired upload", ok, &moderation.Upload{ConversationID: "c1", UploaderID: "bob", Expired: true}, events.StatusRejected},
		{"refused for membership already", moderation.Decision{events.StatusRejected, events.ReasonNotMember}, nil, events.StatusRejected},
		{"held with no such upload", moderation.Decision{Status: events.StatusPending}, nil, events.StatusRejected},
		{"held with the sender's upload", moderation.Decision{Status: events.StatusPending}, &moderation.Upload{ConversationID: "c1", UploaderID: "bob"}, events.StatusPending},
	} {
		d := moderation.DecideAttachment(tc.d, tc.u, m)
		if d.Status != tc.want {
			t.Errorf("%s: %+v, want %s", tc.name, d, tc.want)
		}
		if tc.d.Status != events.StatusRejected && d.Status == events.StatusRejected && d.Reason != events.ReasonAttachmentNotFound {
			t.Errorf("%s: reason %q", tc.name, d.Reason)
		}
	}
}
