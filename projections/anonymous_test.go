package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/chatbackend/chat/events"
)

// visitorHistory adds visitors to the generated history: each starts a
// conversation with a professional, posts and reads there, and is then
// converted into a client, with the visitor's stray posts after it.
type visitorHistory struct {
	open      []string // unconverted visitors
	converted int
	n         int
}

func (v *visitorHistory) conv(anon string) string {
	return events.VisitorConversationID("geosector", anon)
}

func (v *visitorHistory) step(r *rand.Rand, add func(string, events.Payload), post func(*events.MessagePosted), seqs map[string]uint64) {
	v.n++
	if len(v.open) == 0 || v.n%6 == 1 && len(v.open) < 3 {
		anon := fmt.Sprintf("anon-%d", v.n)
		c := v.conv(anon)
		add("conv-"+c, &events.ConversationCreated{ConversationID: c, Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll,
			CreatedBy: anon, Members: []events.Member{{UserID: anon, Role: events.RoleMember}, {UserID: "pro", Role: events.RoleAdmin}}})
		add(events.VisitorEventID("geosector", anon), &events.AnonymousUserCreated{ConversationID: c, AnonymousID: anon, ProfessionalID: "pro"})
		v.open = append(v.open, anon)
		return
	}
	anon := v.open[r.IntN(len(v.open))]
	c := v.conv(anon)
	switch v.n % 6 {
	case 0:
		anon = v.open[0]
		v.open = v.open[1:]
		v.converted++
		add(events.ConversionID("geosector", anon), &events.AnonymousConverted{ConversationID: v.conv(anon), AnonymousID: anon,
			UserID: fmt.Sprintf("client-%d", v.converted), ConvertedBy: "pro"})
		// A post the visitor sent as it was converted: it stays the visitor's.
		add(fmt.Sprint("late-", v.n), &events.MessagePosted{MessageID: events.MessageID("geosector", anon, "late"), ClientMsgID: "late",
			ConversationID: v.conv(anon), SenderID: anon, SenderType: events.ActorAnonymous, Content: "late", ContentType: events.ContentText})
	case 4:
		// The conversation moves to another professional, or back.
		from, to := "pro", "pro2"
		if r.IntN(2) == 0 {
			from, to = to, from
		}
		add(fmt.Sprint("transfer-in-", v.n), &events.MemberJoined{ConversationID: c, UserID: to, Role: events.RoleAdmin, AddedBy: from})
		add(fmt.Sprint("transfer-out-", v.n), &events.MemberLeft{ConversationID: c, UserID: from, RemovedBy: from})
		add(fmt.Sprint("transferred-", v.n), &events.ConversationTransferred{ConversationID: c, FromUserIDs: []string{from}, ToUserID: to, TransferredBy: from})
	case 5:
		// An upload no message takes up, which expires.
		f := fmt.Sprint("forphan", v.n)
		add(events.FileEventID("geosector", f), &events.FileUploaded{FileID: f, ConversationID: c, UploaderID: anon, Name: "x.png",
			ContentType: "image/png", Size: 10, SHA256: fmt.Sprintf("%064d", v.n)})
		add(events.FileExpiredID("geosector", f), &events.FileExpired{FileID: f, ConversationID: c})
	default:
		m := &events.MessagePosted{MessageID: events.MessageID("geosector", anon, fmt.Sprint("v", v.n)), ClientMsgID: fmt.Sprint("v", v.n),
			ConversationID: c, SenderID: anon, SenderType: events.ActorAnonymous, Content: fmt.Sprint("visitor ", v.n),
			ContentType: events.ContentText}
		if v.n%6 == 3 {
			m.AttachmentID, m.ContentType = fmt.Sprint("f", v.n), events.ContentImage
			add(events.FileEventID("geosector", m.AttachmentID), &events.FileUploaded{FileID: m.AttachmentID, ConversationID: c,
				UploaderID: anon, Name: "photo.png", ContentType: "image/png", Size: 10, SHA256: fmt.Sprintf("%064d", v.n)})
		}
		post(m)
		add(fmt.Sprint("visitor-post-", v.n), m)
		add(fmt.Sprint("visitor-mod-", v.n), &events.MessageModerated{MessageID: m.MessageID, ConversationID: m.ConversationID,
			SenderID: anon, ClientMsgID: m.ClientMsgID, Status: events.StatusApproved})
		add(fmt.Sprint("visitor-read-", v.n), &events.ReadReceipt{Receipt: events.Receipt{ConversationID: m.ConversationID,
			UserID: anon, MessageID: m.MessageID, MessageSeq: seqs[m.MessageID]}})
	}
}

func TestConversionShowsTheVisitorsHistoryAsTheClients(t *testing.T) {
	f := newFixture(t, 1500)
	ctx := context.Background()
	var visitors, converted int
	if err := f.live.QueryRow(ctx, `SELECT count(*) FILTER (WHERE sender_id LIKE 'anon-%' AND content <> 'late'),
		count(*) FILTER (WHERE sender_id LIKE 'client-%' AND sender_type = 'user') FROM messages`).Scan(&visitors, &converted); err != nil {
		t.Fatal(err)
	}
	if converted == 0 {
		t.Fatal("the history converted no visitor who had posted: the test proves nothing")
	}
	var open int
	if err := f.live.QueryRow(ctx, `SELECT count(DISTINCT conversation_id) FROM participants WHERE user_id LIKE 'anon-%'`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	// Visitors still unconverted own their posts; no converted visitor is
	// left anywhere but in its own late posts.
	var leftovers []string
	for _, q := range []string{
		`SELECT 'participant ' || p.user_id FROM participants p JOIN conversations c ON c.app = p.app AND c.id = p.conversation_id
		 WHERE p.user_id LIKE 'anon-%' AND c.created_by NOT LIKE 'anon-%'`,
		`SELECT 'membership ' || user_id FROM memberships m WHERE user_id LIKE 'anon-%'
		 AND EXISTS (SELECT 1 FROM memberships o WHERE o.conversation_id = m.conversation_id AND o.user_id LIKE 'client-%')`,
		`SELECT 'message ' || id FROM messages m WHERE sender_id LIKE 'anon-%' AND content <> 'late'
		 AND EXISTS (SELECT 1 FROM participants p WHERE p.conversation_id = m.conversation_id AND p.user_id LIKE 'client-%')`,
		`SELECT 'receipt ' || user_id FROM receipts r WHERE user_id LIKE 'anon-%'
		 AND EXISTS (SELECT 1 FROM participants p WHERE p.conversation_id = r.conversation_id AND p.user_id LIKE 'client-%')`,
		// Before the conversion (the generated edits that follow it name the
		// visitor, which the command side would not have written).
		`SELECT 'feed ' || seq FROM conversation_feed f WHERE data::text LIKE '%"anon-%'
		 AND seq < (SELECT min(u.seq) FROM conversation_feed u WHERE u.conversation_id = f.conversation_id
		            AND u.type = 'conversation.updated' AND u.data::text LIKE '%"converted"%')`,
	} {
		rows, err := f.live.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			leftovers = append(leftovers, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(leftovers) > 0 {
		slices.Sort(leftovers)
		t.Fatalf("converted visitors still named in the read model: %v", leftovers)
	}
	wantMembers, _ := expected(t, f.js)
	gotMembers, _ := actual(t, f.live)
	if !slices.Equal(wantMembers, gotMembers) {
		t.Fatalf("participants after conversions:\n got %v\nwant %v", gotMembers, wantMembers)
	}
	t.Logf("%d visitor posts kept, %d shown as clients', %d visitors unconverted", visitors, converted, open)
}
