package config

import "runtime/debug"

// GCPercent is the garbage collector's target (GOGC) chatd and a rebuild
// run at unless the environment sets GOGC: the heap may grow to five times
// what is live between collections. At the runtime's default of 100 the
// collector took about a tenth of chatd's CPU on the chat path and a fifth
// of a rebuild's (the roster and the set of message keys stay live, and
// every event allocates); the memory it costs is in the README.
const GCPercent = 400

// CollectLess sets this process's collector to GCPercent, unless getenv
// says GOGC is set, and returns what puts it back.
func CollectLess(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old) }
}
