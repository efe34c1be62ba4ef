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
	set   map[[2]uint64]struct{}
}

func newKnownMessages(size int) *knownMessages {
	return &knownMessages{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, set: make(map[[2]uint64]struct{}, size)}
}

func (k *knownMessages) key(m msgKey) [2]uint64 {
	var out [2]uint64
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

func (k *knownMessages) add(m msgKey) { k.set[k.key(m)] = struct{}{} }

func (k *knownMessages) has(m msgKey) bool {
	_, ok := k.set[k.key(m)]
	return ok
}
