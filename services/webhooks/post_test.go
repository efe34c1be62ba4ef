package webhooks

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
)

func TestPosterSignsAndRefusesPrivateAddresses(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := delivery{url: srv.URL + "/hook", secret: "0123456789abcdef", id: deliveryID("geosector", "audit", "e1"),
		event: &events.Envelope{ID: "e1", Type: events.TypeMessagePosted}, seq: 42, body: []byte(`{"id":"e1"}`)}

	closed := newPoster(config.WebhookSettings{Timeout: 5 * time.Second})
	err := closed.send(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "not public") {
		t.Fatalf("a loopback endpoint without AllowPrivate: err = %v", err)
	}
	if got != nil {
		t.Fatal("the loopback endpoint was reached")
	}

	open := newPoster(config.WebhookSettings{Timeout: 5 * time.Second, AllowPrivate: true})
	if err := open.send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/json", "X-Chat-Event": "message.posted", "X-Chat-Delivery": d.id,
		"X-Chat-Seq": "42", "X-Chat-Signature": Sign(d.secret, d.body),
	} {
		if got.Header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, got.Header.Get(h), want)
		}
	}
	if string(body) != `{"id":"e1"}` {
		t.Errorf("body = %s", body)
	}
}

func TestPosterCountsOnlyTwoHundredsAsDelivered(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusBadRequest, http.StatusServiceUnavailable} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusMovedPermanently {
				http.Redirect(w, r, "/elsewhere", status)
				return
			}
			w.WriteHeader(status)
		}))
		p := newPoster(config.WebhookSettings{Timeout: 5 * time.Second, AllowPrivate: true})
		err := p.send(context.Background(), delivery{url: srv.URL, secret: "0123456789abcdef",
			event: &events.Envelope{Type: events.TypeMessagePosted}, body: []byte(`{}`)})
		if err == nil {
			t.Errorf("status %d counted as delivered", status)
		}
		srv.Close()
	}
}

func TestRefusePrivateAddresses(t *testing.T) {
	for addr, refused := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "10.1.2.3:80": true, "192.168.1.1:443": true, "172.16.0.1:80": true,
		"169.254.169.254:80": true, "100.64.1.1:80": true, "0.0.0.0:80": true, "[fe80::1]:80": true, "[fd00::1]:80": true,
		"224.0.0.1:80": true, "93.184.216.34:443": false, "[2606:2800:220:1::1]:443": false,
	} {
		if err := refusePrivate("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("%s: refused = %v, want %v", addr, err != nil, refused)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
