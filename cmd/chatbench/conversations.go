package main

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// listResult is GET /conversations for one user in many conversations.
type listResult struct {
	conversations int
	requests      int
	median, p99   time.Duration
}

// listScenario puts user 0 of the population in n more groups of two (one
// in a hundred pinned, every other one with a message from its other member),
// then times requests GET /conversations (its first page, 50
// conversations), one at a time: the list is one statement whatever n, and
// its goal is a p99 under 20 ms at n = 1,000.
func (b *bench) listScenario(n, requests int) (*listResult, error) {
	if n+1 > len(b.pop.users) {
		return nil, fmt.Errorf("%d conversations need %d connected users, the population has %d", n, n+1, len(b.pop.users))
	}
	kinds, members := make([]string, n), make([][]int, n)
	for i := range n {
		kinds[i], members[i] = "group", []int{0, i + 1}
	}
	convs, err := b.pop.createAll(kinds, members)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	lister := b.pop.users[0]
	sent := 0
	for i, c := range convs {
		if i%100 == 0 {
			if err := b.pop.rest("PUT", "/api/chat/conversations/"+c.id+"/pin", lister, map[string]any{"pinned": true}, nil); err != nil {
				return nil, fmt.Errorf("pin: %w", err)
			}
		}
		if i%2 == 0 {
			if err := b.pop.send(i+1, c, "list-"+itoa(i), "in conversation "+itoa(i)); err != nil {
				return nil, fmt.Errorf("send: %w", err)
			}
			sent++
		}
	}
	ids := make(map[string]bool, n)
	for _, c := range convs {
		ids[c.id] = true
	}
	if err := b.listed(lister, ids, sent); err != nil {
		return nil, err
	}
	res := &listResult{conversations: n, requests: requests}
	took := make([]time.Duration, 0, requests)
	for range requests {
		start := time.Now()
		if err := b.pop.rest(http.MethodGet, "/api/chat/conversations?limit=50", lister, nil, nil); err != nil {
			return nil, err
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	res.median, res.p99 = took[len(took)/2], took[min(len(took)-1, len(took)*99/100)]
	return res, nil
}

// listed waits until user's list holds the conversations ids, sent of them
// with their last message: the read model has everything the timing reads.
// The user may be in others (the full run's pairs and announcement).
func (b *bench) listed(user string, ids map[string]bool, sent int) error {
	type page struct {
		Conversations []struct {
			ID          string
			LastMessage *struct{ ID string }
		}
		HasMore    bool
		NextCursor string
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		total, withLast, cursor := 0, 0, ""
		for {
			var p page
			path := "/api/chat/conversations?limit=200"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			if err := b.pop.rest(http.MethodGet, path, user, nil, &p); err != nil {
				return err
			}
			for _, c := range p.Conversations {
				if !ids[c.ID] {
					continue
				}
				total++
				if c.LastMessage != nil {
					withLast++
				}
			}
			if !p.HasMore {
				break
			}
			cursor = p.NextCursor
		}
		if total == len(ids) && withLast == sent {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("list of %s: %d conversations, %d with a message; want %d and %d", user, total, withLast, len(ids), sent)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// line is the scenario's one-line summary.
func (r *listResult) line() string {
	return fmt.Sprintf("GET /conversations, first page, user in %d conversations: median %v, p99 %v (%d requests)",
		r.conversations, r.median.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.requests)
}
