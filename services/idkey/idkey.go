// Package idkey turns an application's ids into fixed-size keys for the
// sets consumers keep of every message they have seen. A key is 16 bytes
// and holds no pointer, so a set of millions costs a fraction of its ids'
// strings and the garbage collector never has to scan it: the collector's
// work, which chatd's latency tail follows, stays flat as the log grows.
package idkey

import "hash/maphash"

// Key stands for an (application, id) pair: two independent 64-bit hashes.
// Two of a billion pairs share a key with a probability near 10^-21. Keys
// are seeded per process: they live in memory only, rebuilt from the log at
// every start, and are never stored or compared across processes.
type Key [2]uint64

var seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// Of is the key of id within app.
func Of(app, id string) Key {
	var k Key
	for i, seed := range seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(app)
		h.WriteByte(0) // no app/id pair writes the same bytes as another
		h.WriteString(id)
		k[i] = h.Sum64()
	}
	return k
}
