package projections

import (
	"strconv"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/roster"
)

// foldBatch is a replay's batch (DefaultReplayBatch events): 200
// conversations created, then messages posted and approved in them.
func foldBatch(b *testing.B) jet.Batch {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	actor := events.Actor{ID: "u1", Type: events.ActorUser}
	var evs []*events.Envelope
	seq := uint64(0)
	add := func(id string, p events.Payload) {
		at = at.Add(time.Millisecond)
		e, err := events.New(id, "geosector", at, actor, p)
		if err != nil {
			b.Fatal(err)
		}
		seq++
		e.Seq = seq
		evs = append(evs, e)
	}
	for c := 0; c < 200; c++ {
		id := "c" + strconv.Itoa(c)
		members := []events.Member{{UserID: "u" + strconv.Itoa(c), Role: events.RoleAdmin}, {UserID: "v" + strconv.Itoa(c), Role: events.RoleMember}}
		add("conv-"+id, &events.ConversationCreated{ConversationID: id, Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: members[0].UserID, Members: members})
	}
	for k := 0; len(evs) < DefaultReplayBatch; k++ {
		c := k % 200
		conv := "c" + strconv.Itoa(c)
		sender := "u" + strconv.Itoa(c)
		mid := events.MessageID("geosector", sender, "k"+strconv.Itoa(k))
		add(mid, &events.MessagePosted{MessageID: mid, ClientMsgID: "k" + strconv.Itoa(k), ConversationID: conv, SenderID: sender, SenderType: events.ActorUser, Content: "message " + strconv.Itoa(k), ContentType: events.ContentText})
		add("mod-"+mid, &events.MessageModerated{MessageID: mid, ConversationID: conv, SenderID: sender, ClientMsgID: "k" + strconv.Itoa(k), Status: events.StatusApproved, PostedSeq: seq})
	}
	return jet.Batch{Events: evs, Last: seq}
}

// BenchmarkFoldReplayBatch is the CPU and memory a replay spends folding
// one batch before PostgreSQL writes it.
func BenchmarkFoldReplayBatch(b *testing.B) {
	batch := foldBatch(b)
	b.ReportAllocs()
	for b.Loop() {
		p := &Projector{roster: roster.New(), lastDeferred: true}
		if _, err := p.fold(batch, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}
