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
// message with its strings made the live heap, and every collection's mark,
// grow with it. Here a message is a fixed-size record without pointers: its
// ids sit in one byte arena (64-bit offsets: no history overflows it), its
// sender, types and status in a small table of the conversation's distinct
// values, and the index is keyed by idkey. None of it holds a pointer per
// message, so the collector never scans it, however long the history.
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

// posting is one message. Its client message id, attachment and reply sit
// in a row in postings.text from offset text, with the lengths given. Times
// are Unix microseconds (events keep no finer), 0 for an edit or deletion
// that did not happen.
type posting struct {
	text                             uint64
	clientMsgID, attachment, replyTo uint32
	postedSeq                        uint64
	postedAt, editedAt, deletedAt    int64
	sender, senderType, contentType  int32
	status                           int32
}

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
	rec := posting{text: uint64(len(ps.text)), clientMsgID: uint32(len(p.ClientMsgID)),
		attachment: uint32(len(p.AttachmentID)), replyTo: uint32(len(p.ReplyTo)),
		postedSeq: seq, postedAt: at.UnixMicro(), sender: ps.word(p.SenderID),
		senderType: ps.word(string(p.SenderType)), contentType: ps.word(string(p.ContentType))}
	ps.text = append(append(append(ps.text, p.ClientMsgID...), p.AttachmentID...), p.ReplyTo...)
	ps.recs = append(ps.recs, rec)
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

// ids are p's client message id, attachment and reply, as bytes of the
// arena: compared without building strings.
func (ps *postings) ids(p *posting) (clientMsgID, attachment, replyTo []byte) {
	a := p.text
	b := a + uint64(p.clientMsgID)
	c := b + uint64(p.attachment)
	return ps.text[a:b], ps.text[b:c], ps.text[c : c+uint64(p.replyTo)]
}

// attaches reports whether p carries file id.
func (ps *postings) attaches(p *posting, id string) bool {
	_, attachment, _ := ps.ids(p)
	return string(attachment) == id
}

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
	clientMsgID, attachment, replyTo := ps.ids(p)
	return Message{ID: id, ClientMsgID: string(clientMsgID), SenderID: ps.words[p.sender],
		SenderType: events.ActorType(ps.words[p.senderType]), ContentType: events.ContentType(ps.words[p.contentType]),
		Attachment: string(attachment), ReplyTo: string(replyTo), PostedAt: micros(p.postedAt), PostedSeq: p.postedSeq,
		Status: ps.status(p), EditedAt: micros(p.editedAt), DeletedAt: micros(p.deletedAt)}
}

// micros is the time of a posting's field, zero for 0.
func micros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
