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
	switch k := r.IntN(6); {
	case len(v.open) == 0 || k == 0 && len(v.open) < 3:
		anon := fmt.Sprintf("anon-%d", v.n)
		c := v.conv(anon)
		add("conv-"+c, &events.ConversationCreated{ConversationID: c, Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll,
			CreatedBy: anon, Members: []events.Member{{UserID: anon, Role: events.RoleMember}, {UserID: "pro", Role: events.RoleAdmin}}})
		add(events.VisitorEventID("geosector", anon), &events.AnonymousUserCreated{ConversationID: c, AnonymousID: anon, ProfessionalID: "pro"})
		v.open = append(v.open, anon)
	case k == 1:
		anon := v.open[0]
		v.open = v.open[1:]
		v.converted++
		add(events.ConversionID("geosector", anon), &events.AnonymousConverted{ConversationID: v.conv(anon), AnonymousID: anon,
			UserID: fmt.Sprintf("client-%d", v.converted), ConvertedBy: "pro"})
		// A post the visitor sent as it was converted: it stays the visitor's.
		add(fmt.Sprint("late-", v.n), &events.MessagePosted{MessageID: events.MessageID("geosector", anon, "late"), ClientMsgID: "late",
			ConversationID: v.conv(anon), SenderID: anon, SenderType: events.ActorAnonymous, Content: "late", ContentType: events.ContentText})
	default:
		anon := v.open[r.IntN(len(v.open))]
		m := &events.MessagePosted{MessageID: events.MessageID("geosector", anon, fmt.Sprint("v", v.n)), ClientMsgID: fmt.Sprint("v", v.n),
			ConversationID: v.conv(anon), SenderID: anon, SenderType: events.ActorAnonymous, Content: fmt.Sprint("visitor ", v.n),
			ContentType: events.ContentText}
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
		`SELECT 'feed ' || seq FROM conversation_feed f WHERE data::text LIKE '%"anon-%' AND type <> 'conversation.updated'
		 AND EXISTS (SELECT 1 FROM participants p WHERE p.conversation_id = f.conversation_id AND p.user_id LIKE 'client-%')`,
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
