package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/auth"
)

// population is every simulated user with its connection.
type population struct {
	srv   *server
	users []string
	conns []*mqttlite.Conn
	rec   *recorder
}

func userName(i int) string { return "u" + strconv.Itoa(i) }

func token(user string) string {
	t, err := auth.Mint([]byte(benchSecret), "geosector", user, "member", "", "", 6*time.Hour, time.Now())
	if err != nil {
		panic(err)
	}
	return t
}

// connect opens n connections, each subscribed to its user's topics, with a
// few dozen dials in flight at once.
func connectPopulation(ctx context.Context, srv *server, n int, rec *recorder) (*population, error) {
	p := &population{srv: srv, users: make([]string, n), conns: make([]*mqttlite.Conn, n), rec: rec}
	for i := range p.users {
		p.users[i] = userName(i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 48)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := p.users[i]
			c, err := mqttlite.Dial(srv.mqttAddr, "bench-"+user, user, srv.password(user, token(user)),
				func(topic string, payload []byte) { rec.observe(i, topic, payload) })
			if err != nil {
				errs <- fmt.Errorf("connect %s: %w", user, err)
				return
			}
			if err := c.Subscribe("chat/user/"+user+"/#", 1); err != nil {
				errs <- err
				c.Close()
				return
			}
			p.conns[i] = c
			go func() { _ = c.Run() }()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		p.close()
		return nil, err
	}
	go p.keepAlive(ctx)
	return p, nil
}

func (p *population) keepAlive(ctx context.Context) {
	t := time.NewTicker(45 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, c := range p.conns {
				if c != nil {
					_ = c.Ping()
				}
			}
		}
	}
}

// close disconnects every client; a second call does nothing.
func (p *population) close() {
	for i, c := range p.conns {
		if c != nil {
			c.Close()
			p.conns[i] = nil
		}
	}
}

// conversation is one conversation of the load with its members' indexes.
type conversation struct {
	id      string
	members []int
}

// create makes a conversation over REST, as its first member.
func (p *population) create(kind string, members []int) (*conversation, error) {
	var others []string
	for _, m := range members[1:] {
		others = append(others, p.users[m])
	}
	first := others
	if len(first) > 1000 {
		first = others[:1000]
	}
	var c struct{ ID string }
	if err := p.rest("POST", "/api/chat/conversations", p.users[members[0]],
		map[string]any{"type": kind, "participantIds": first}, &c); err != nil {
		return nil, err
	}
	// A 202 means the read model lags: wait until it shows the conversation.
	for i := 0; p.rest("GET", "/api/chat/conversations/"+c.ID, p.users[members[0]], nil, nil) != nil; i++ {
		if i == 600 {
			return nil, fmt.Errorf("conversation %s not in the read model after 60s", c.ID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := len(first); i < len(others); i += 1000 {
		batch := others[i:min(i+1000, len(others))]
		if err := p.rest("POST", "/api/chat/conversations/"+c.ID+"/participants", p.users[members[0]],
			map[string]any{"userIds": batch}, nil); err != nil {
			return nil, err
		}
	}
	return &conversation{id: c.ID, members: members}, nil
}

func (p *population) rest(method, path, user string, body, out any) error {
	return p.restWith(method, path, token(user), body, out)
}

// restWith is rest with a token of another role than member.
func (p *population) restWith(method, path, tok string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+p.srv.httpAddr+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// createAll creates conversations with a few requests in flight.
func (p *population) createAll(kinds []string, members [][]int) ([]*conversation, error) {
	out := make([]*conversation, len(members))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 16)
	for i := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := p.create(kinds[i], members[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			out[i] = c
		}()
	}
	wg.Wait()
	return out, first
}

// send publishes a chat message from member sender of conv.
func (p *population) send(sender int, conv *conversation, clientID, content string) error {
	body := `{"clientMsgId":"` + clientID + `","conversationId":"` + conv.id + `","content":"` + content + `"}`
	return p.conns[sender].Publish("chat/cmd/"+p.users[sender]+"/send", []byte(body), 1)
}
