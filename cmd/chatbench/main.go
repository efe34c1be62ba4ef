// Command chatbench is the load generator: a population of real MQTT clients
// that create conversations over REST, publish chat messages at a fixed,
// open-loop rate and measure publish-to-delivery latency at every recipient,
// from each message's scheduled send time (so a stall shows as latency).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
)

type options struct {
	httpURL  string
	mqttURL  string
	app      string
	prefix   string
	pairs    int
	rate     float64
	duration time.Duration
	drain    time.Duration
	secret   []byte
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var o options
	fl := flag.NewFlagSet("chatbench", flag.ContinueOnError)
	fl.StringVar(&o.httpURL, "http", "http://127.0.0.1:8080", "chatd REST base URL")
	fl.StringVar(&o.mqttURL, "mqtt", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fl.StringVar(&o.app, "app", "geosector", "application")
	fl.IntVar(&o.pairs, "pairs", 100, "sender/recipient pairs, each in a one_to_one conversation")
	fl.Float64Var(&o.rate, "rate", 2000, "offered messages per second, all senders together")
	fl.DurationVar(&o.duration, "duration", 10*time.Second, "how long to offer load")
	fl.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait for the last deliveries")
	dataDir := fl.String("data-dir", "", "chatd's data dir, to read its generated key (or CHAT_JWT_SECRET)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var cargs []string
	if *dataDir != "" {
		cargs = append(cargs, "--data-dir="+*dataDir)
	}
	cfg, err := config.Load("chatbench", cargs, os.Getenv)
	if err != nil {
		return err
	}
	app := cfg.Apps[o.app]
	if app == nil {
		return fmt.Errorf("unknown application %q", o.app)
	}
	o.secret, o.prefix = cfg.JWTSecret, app.TopicPrefix
	res, err := steady(context.Background(), o)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	return nil
}

type result struct {
	offered, delivered, lost, duplicated int
	latencies                            []time.Duration
	elapsed                              time.Duration
}

func (r *result) print(w io.Writer) {
	slices.Sort(r.latencies)
	q := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	fmt.Fprintf(w, "offered %d, delivered %d, lost %d, duplicated %d in %v (%.0f msg/s delivered)\n",
		r.offered, r.delivered, r.lost, r.duplicated, r.elapsed.Round(time.Millisecond), float64(r.delivered)/r.elapsed.Seconds())
	fmt.Fprintf(w, "publish-to-delivery p50 %v  p99 %v  p99.9 %v  max %v\n",
		q(0.50).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), q(0.999).Round(10*time.Microsecond), q(1).Round(10*time.Microsecond))
}

type pair struct {
	sender, recipient string
	conv              string
	pub               paho.Client
}

// steady offers o.rate messages/s over o.pairs one_to_one conversations.
func steady(ctx context.Context, o options) (*result, error) {
	stamp := strconv.FormatInt(time.Now().Unix(), 36)
	pairs := make([]*pair, o.pairs)
	var mu sync.Mutex
	seen := map[int]int{}
	var lat []time.Duration
	var delivered atomic.Int64
	t0 := time.Now().Add(2 * time.Second) // filled in before the first send
	var t0ns atomic.Int64
	for i := range pairs {
		p := &pair{sender: fmt.Sprintf("bs%s-%d", stamp, i), recipient: fmt.Sprintf("br%s-%d", stamp, i)}
		conv, err := createOneToOne(o, p.sender, p.recipient)
		if err != nil {
			return nil, err
		}
		p.conv = conv
		onMsg := func(_ paho.Client, m paho.Message) {
			now := time.Now()
			var env struct {
				Type string
				Data struct{ Content string }
			}
			if json.Unmarshal(m.Payload(), &env) != nil || env.Type != "message.new" {
				return
			}
			k, err := strconv.Atoi(strings.TrimPrefix(env.Data.Content, "bench "))
			if err != nil {
				return
			}
			sched := time.Unix(0, t0ns.Load()).Add(time.Duration(float64(k) / o.rate * float64(time.Second)))
			mu.Lock()
			seen[k]++
			if seen[k] == 1 {
				lat = append(lat, now.Sub(sched))
			}
			mu.Unlock()
			delivered.Add(1)
		}
		if _, err := dial(o, p.recipient, "chat/user/"+p.recipient+"/messages", onMsg); err != nil {
			return nil, err
		}
		pub, err := dial(o, p.sender, "", nil)
		if err != nil {
			return nil, err
		}
		p.pub = pub
		pairs[i] = p
	}
	total := int(o.rate * o.duration.Seconds())
	t0 = time.Now()
	t0ns.Store(t0.UnixNano())
	for k := 0; k < total; k++ {
		sched := t0.Add(time.Duration(float64(k) / o.rate * float64(time.Second)))
		if d := time.Until(sched); d > 0 {
			time.Sleep(d)
		}
		p := pairs[k%len(pairs)]
		body, _ := json.Marshal(map[string]string{"clientMsgId": fmt.Sprintf("k%d", k), "conversationId": p.conv,
			"content": fmt.Sprintf("bench %d", k)})
		p.pub.Publish(o.prefix+"/cmd/"+p.sender+"/send", 1, false, body)
	}
	deadline := time.Now().Add(o.drain)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= total {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(t0)
	mu.Lock()
	defer mu.Unlock()
	r := &result{offered: total, delivered: len(seen), lost: total - len(seen), latencies: lat, elapsed: elapsed}
	for _, n := range seen {
		r.duplicated += n - 1
	}
	for _, p := range pairs {
		p.pub.Disconnect(0)
	}
	return r, nil
}

func dial(o options, user, filter string, h paho.MessageHandler) (paho.Client, error) {
	tok, err := auth.Mint(o.secret, o.app, user, "member", "", "", time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(o.mqttURL).SetClientID(user).SetUsername(user).
		SetPassword(tok).SetCleanSession(true).SetOrderMatters(false).SetAutoReconnect(false))
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", user, t.Error())
	}
	if filter != "" {
		if t := c.Subscribe(filter, 1, h); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
			return nil, fmt.Errorf("subscribe %s: %v", filter, t.Error())
		}
	}
	return c, nil
}

func createOneToOne(o options, a, b string) (string, error) {
	tok, err := auth.Mint(o.secret, o.app, a, "member", "", "", time.Hour, time.Now())
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]any{"type": "one_to_one", "participantIds": []string{b}})
	req, _ := http.NewRequest("POST", o.httpURL+"/api/chat/conversations", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("create conversation: %d %s", resp.StatusCode, out)
	}
	var c struct{ ID string }
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
		return "", errors.New("create conversation: no id in " + string(out))
	}
	return c.ID, nil
}
