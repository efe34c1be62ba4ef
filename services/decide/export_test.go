package decide

// HoldBeforeAppend makes d call f between each decision and its append,
// with the position the decision was made at: a test appends there what a
// concurrent command would have.
func HoldBeforeAppend(d *Decider, f func(conv string, pos uint64)) { d.beforeAppend = f }

// Test access to what the Decider counts and to its feed.

// LogFolds is how many catch-ups of d read the log.
func LogFolds(d *Decider) uint64 { return d.logFolds.Load() }

// Conflicts is how many of d's appends found the conversation moved on.
func Conflicts(d *Decider) uint64 { return d.conflicts.Load() }

// FeedRunning reports whether d's feed has its consumer.
func FeedRunning(d *Decider) bool { return d.feed.Load() != 0 }

// BeforeFeed sets a hook the feed calls before each event, with its
// sequence; set it before Follow starts.
func BeforeFeed(d *Decider, f func(seq uint64)) { d.beforeFeed = f }

// Cached is the position of a cached state and whether the feed keeps it
// current; ok is false when the conversation is not cached.
func Cached(d *Decider, app, conv string) (pos uint64, fed, ok bool) {
	en := d.cached(key{app, conv})
	if en == nil {
		return 0, false, false
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	return en.state.Pos, en.fed, true
}
