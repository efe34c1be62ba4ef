package decide

import (
	"sort"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/idkey"
)

// postings are a conversation's messages as decisions need them, kept
// compact. The Decider holds every message of each conversation it caches,
// and the feed adds each new one, so this grows with the log: one object per
// message with its strings made the live heap, and every collection's
// mark, grow with it. Here a message is a fixed-size record without
// pointers: its ids sit in one byte arena, its sender, types and status in
// a small table of the conversation's distinct values, and the index is
// keyed by idkey. None of it holds a pointer per message, so the collector
// never scans it, however long the history.
type postings struct {
	recs  []posting // in log order, so sorted by postedSeq
	index map[idkey.Key]int32
	// text holds the client message ids, attachments and replies; words the
	// conversation's distinct senders, sender types, content types and
	// statuses ("" first, so a zero index is the empty string).
	text      []byte
	words     []string
	wordIndex map[string]int32
}

// posting is one message. Times are Unix microseconds (events keep no
// finer), 0 for an edit or deletion that did not happen.
type posting struct {
	clientMsgID, attachment, replyTo span
	postedSeq                        uint64
	postedAt, editedAt, deletedAt    int64
	sender, senderType, contentType  int32
	status                           int32
}

// span is a string of postings.text.
type span struct{ off, n uint32 }

func newPostings() postings {
	return postings{index: map[idkey.Key]int32{}, words: []string{""}, wordIndex: map[string]int32{"": 0}}
}

// add records a posting unless the id is known: a repeat keeps the first.
func (ps *postings) add(app string, p *events.MessagePosted, at time.Time, seq uint64) {
	k := idkey.Of(app, p.MessageID)
	if _, ok := ps.index[k]; ok {
		return
	}
	ps.index[k] = int32(len(ps.recs))
	ps.recs = append(ps.recs, posting{clientMsgID: ps.store(p.ClientMsgID), attachment: ps.store(p.AttachmentID),
		replyTo: ps.store(p.ReplyTo), postedSeq: seq, postedAt: at.UnixMicro(), sender: ps.word(p.SenderID),
		senderType: ps.word(string(p.SenderType)), contentType: ps.word(string(p.ContentType))})
}

// find is the posting of message id, nil if none; the pointer is good until
// the next add.
func (ps *postings) find(app, id string) *posting {
	i, ok := ps.index[idkey.Of(app, id)]
	if !ok {
		return nil
	}
	return &ps.recs[i]
}

// from is the index of the first posting after position seq.
func (ps *postings) from(seq uint64) int {
	return sort.Search(len(ps.recs), func(i int) bool { return ps.recs[i].postedSeq > seq })
}

func (ps *postings) store(s string) span {
	if s == "" {
		return span{}
	}
	sp := span{off: uint32(len(ps.text)), n: uint32(len(s))}
	ps.text = append(ps.text, s...)
	return sp
}

// is reports whether span sp holds s, without building a string.
func (ps *postings) is(sp span, s string) bool {
	return string(ps.text[sp.off:sp.off+sp.n]) == s
}

func (ps *postings) str(sp span) string { return string(ps.text[sp.off : sp.off+sp.n]) }

// word is s's index in the table, added if new.
func (ps *postings) word(s string) int32 {
	if i, ok := ps.wordIndex[s]; ok {
		return i
	}
	i := int32(len(ps.words))
	ps.words = append(ps.words, s)
	ps.wordIndex[s] = i
	return i
}

func (ps *postings) status(p *posting) events.ModerationStatus {
	return events.ModerationStatus(ps.words[p.status])
}

func (ps *postings) senderID(p *posting) string { return ps.words[p.sender] }

// message is p as a Message.
func (ps *postings) message(id string, p *posting) Message {
	return Message{ID: id, ClientMsgID: ps.str(p.clientMsgID), SenderID: ps.words[p.sender],
		SenderType: events.ActorType(ps.words[p.senderType]), ContentType: events.ContentType(ps.words[p.contentType]),
		Attachment: ps.str(p.attachment), ReplyTo: ps.str(p.replyTo), PostedAt: micros(p.postedAt), PostedSeq: p.postedSeq,
		Status: ps.status(p), EditedAt: micros(p.editedAt), DeletedAt: micros(p.deletedAt)}
}

// micros is the time of a posting's field, zero for 0.
func micros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
