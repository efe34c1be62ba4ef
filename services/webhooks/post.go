package webhooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
)

// delivery is one event for one webhook.
type delivery struct {
	url, secret string
	id          string // X-Chat-Delivery: the same for every attempt
	event       *events.Envelope
	seq         uint64
	body        []byte // the event as stored in the log
}

// deliveryID names the delivery of event eventID to webhook id of app, so
// an endpoint can drop the repeats at-least-once brings.
func deliveryID(app, id, eventID string) string {
	h := sha256.Sum256([]byte(app + "\x00" + id + "\x00" + eventID))
	return "d" + hex.EncodeToString(h[:16])
}

// poster makes webhook requests.
type poster struct{ client *http.Client }

func newPoster(s config.WebhookSettings) *poster {
	dialer := &net.Dialer{Timeout: s.Timeout}
	if !s.AllowPrivate {
		dialer.Control = refusePrivate
	}
	return &poster{client: &http.Client{
		Timeout: s.Timeout,
		Transport: &http.Transport{
			// No proxy from the environment: the address check below must
			// see the endpoint's own address.
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		},
		// A redirect could lead past the address check or to another
		// host; the endpoint's own answer counts.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// send POSTs d once: nil on a 2xx answer.
func (p *poster) send(ctx context.Context, d delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "chatd-webhooks/1")
	req.Header.Set("X-Chat-Event", d.event.Type.Dotted())
	req.Header.Set("X-Chat-Delivery", d.id)
	req.Header.Set("X-Chat-Seq", strconv.FormatUint(d.seq, 10))
	req.Header.Set("X-Chat-Signature", Sign(d.secret, d.body))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", d.url, resp.Status)
	}
	return nil
}

// refusePrivate refuses connections to addresses inside the deployment's
// networks: loopback, private, link-local, carrier-grade NAT, unspecified
// and multicast. It runs on the address actually dialled, after name
// resolution, so a name resolving to such an address is refused too.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || sharedAddressSpace.Contains(ip) {
		return fmt.Errorf("webhook address %s is not public (CHAT_WEBHOOK_ALLOW_PRIVATE=1 allows it)", host)
	}
	return nil
}

// sharedAddressSpace is 100.64.0.0/10 (RFC 6598).
var sharedAddressSpace = &net.IPNet{IP: net.IPv4(100, 64, 0, 0), Mask: net.CIDRMask(10, 32)}
