package jet

import (
	"bytes"
	"sync/atomic"

	"github.com/chatbackend/chat/events"
)

// The consumers of one chatd (moderation, fan-out, the projector and the
// decision feed) read the same events within moments of each other, and
// each would otherwise decode every one again. decoded remembers the
// envelopes decoded lately by stream position, so an event is decoded once
// per process. An envelope is never changed once decoded (its payload is
// decoded with it, to check its subject), so the consumers share it.
var decoded decodedCache

// decodedSlots is how many recent positions are remembered: the consumers
// trail each other by far less under load (the projector's batches are the
// widest gap), and a miss only costs a decode.
const decodedSlots = 1 << 13

type decodedCache struct {
	slots [decodedSlots]atomic.Pointer[decodedSlot]
}

type decodedSlot struct {
	seq     uint64
	subject string
	data    []byte
	env     *events.Envelope
}

// Decode is the event stored at seq under subject with body data: decoded
// and checked to belong under that subject (else an error, and the event is
// for the dead letters), or the envelope another consumer of this process
// decoded from the same bytes at the same position. The envelope is shared:
// callers must not change it.
func Decode(seq uint64, subject string, data []byte) (*events.Envelope, error) {
	slot := &decoded.slots[seq%decodedSlots]
	if s := slot.Load(); s != nil && s.seq == seq && s.subject == subject && bytes.Equal(s.data, data) {
		return s.env, nil
	}
	e, err := events.Decode(data)
	if err == nil {
		err = checkSubject(e, subject)
	}
	if err != nil {
		return nil, err
	}
	e.Seq = seq
	slot.Store(&decodedSlot{seq: seq, subject: subject, data: data, env: e})
	return e, nil
}
