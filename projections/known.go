package projections

import "hash/maphash"

// knownMessages is the set of messages a replay has written, as 128-bit
// keyed hashes of (app, id) rather than the strings: a replay of a large log
// holds hundreds of thousands of them, and a map without pointers is one the
// garbage collector never scans, where a map of strings costs it a visit to
// every entry at every cycle. Two messages share a hash with odds of about
// n²/2¹²⁹ (below 10⁻²⁵ for ten million messages); the seeds are random per
// process, so no one can make ids that collide on purpose.
type knownMessages struct {
	seeds [2]maphash.Seed
	set   map[knownKey]struct{}
}

// knownKey is a message's key in knownMessages: computed once per message,
// to ask whether it is known and then to add it.
type knownKey [2]uint64

func newKnownMessages(size int) *knownMessages {
	return &knownMessages{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, set: make(map[knownKey]struct{}, size)}
}

func (k *knownMessages) key(m msgKey) knownKey {
	var out knownKey
	for i, seed := range k.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(m.app)
		h.WriteByte(0)
		h.WriteString(m.id)
		out[i] = h.Sum64()
	}
	return out
}

func (k *knownMessages) add(key knownKey) { k.set[key] = struct{}{} }

func (k *knownMessages) has(key knownKey) bool {
	_, ok := k.set[key]
	return ok
}
