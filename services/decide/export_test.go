package decide

// HoldBeforeAppend makes d call f between each decision and its append,
// with the position the decision was made at: a test appends there what a
// concurrent command would have.
func HoldBeforeAppend(d *Decider, f func(conv string, pos uint64)) { d.beforeAppend = f }
