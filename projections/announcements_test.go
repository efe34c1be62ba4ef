package projections

import (
	"context"
	"slices"
	"testing"

	"github.com/chatbackend/chat/events"
)

// announce adds to a generated history a directory written twice and an
// announcement to four users in two parts, the first part repeated (a retry
// after the log's deduplication window).
func announce(add func(id string, p events.Payload)) {
	add("dir-1", &events.DirectoryUsersUpdated{Users: []events.DirectoryUser{
		{ID: "bob", Entity: "5", Role: "member", Active: true}, {ID: "carol", Entity: "5", Role: "admin", Active: true},
		{ID: "dave", Entity: "6", Role: "member", Active: true}, {ID: "erin", Entity: "6", Role: "member", Name: "Érin", Active: true}}})
	add("dir-2", &events.DirectoryUsersUpdated{Users: []events.DirectoryUser{
		{ID: "bob", Entity: "6", Role: "member", Active: false}, {ID: "zoe", Role: "super_admin", Active: true}}})
	add("conv-a1", &events.ConversationCreated{ConversationID: "a1", Kind: events.KindBroadcast, Title: "Réunion",
		ReplyPermission: events.ReplyNone, CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}}})
	m := &events.MessagePosted{MessageID: events.MessageID("geosector", "alice", "a1"), ClientMsgID: "a1", ConversationID: "a1",
		SenderID: "alice", SenderType: events.ActorUser, Content: "Demain 9h", ContentType: events.ContentText, Announcement: true}
	add("ann-post-a1", m)
	add("mod-"+m.MessageID, &events.MessageModerated{MessageID: m.MessageID, ConversationID: "a1", SenderID: "alice",
		ClientMsgID: "a1", Status: events.StatusApproved})
	part := func(n int, users ...string) *events.AnnouncementTargeted {
		return &events.AnnouncementTargeted{AnnouncementID: "a1", ConversationID: "a1", MessageID: m.MessageID, From: "alice",
			Title: "Réunion", Content: "Demain 9h", ReplyPermission: events.ReplyNone, Pinned: true,
			Targets: []events.Target{{Entity: "all", Role: "all"}}, DirectorySeq: 2, Part: n, Parts: 2, Total: 4, Recipients: users}
	}
	add("ann-a1-1", part(1, "bob", "carol"))
	add("ann-a1-1-again", part(1, "bob", "carol"))
	add("ann-a1-2", part(2, "dave", "erin"))
}

func TestAnAnnouncementsAudienceIsProjectedAsRecorded(t *testing.T) {
	f := newFixture(t, 40)
	ctx := context.Background()
	rows, err := f.live.Query(ctx, "SELECT user_id FROM announcement_recipients WHERE announcement_id = 'a1' ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var u string
		_ = rows.Scan(&u)
		got = append(got, u)
	}
	if want := []string{"bob", "carol", "dave", "erin"}; !slices.Equal(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	var feed int
	if err := f.live.QueryRow(ctx, "SELECT count(*) FROM conversation_feed WHERE type = 'announcement.new'").Scan(&feed); err != nil || feed != 2 {
		t.Fatalf("%d announcement.new rows (%v), want one per part: the repeat adds none", feed, err)
	}
	var entity string
	var active bool
	if err := f.live.QueryRow(ctx, "SELECT entity, active FROM directory_users WHERE user_id = 'bob'").Scan(&entity, &active); err != nil ||
		entity != "6" || active {
		t.Fatalf("bob in the directory: %q active=%v (%v), want the last write", entity, active, err)
	}
}
