package events

import (
	"fmt"
	"net/url"
	"slices"
)

// Webhook events: an application's webhooks, replaced as a whole.
const TypeWebhooksChanged Type = "WebhooksChanged"

// Limits of a webhooks document.
const (
	MaxWebhooks      = 20
	MaxWebhookURL    = 2048
	MaxWebhookEvents = 64
	// MaxSealedSecret bounds a sealed secret (a secret of at most 256
	// bytes, sealed and encoded).
	MaxSealedSecret = 512
	// AllEventNames in a webhook's events asks for every event a client may
	// see.
	AllEventNames = "*"
)

// Webhook is one endpoint of an application and the events it receives.
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Events are dotted type names (message.posted), or "*".
	Events []string `json:"events"`
	// SealedSecret is the signing secret, encrypted with a key only chatd
	// holds: services of the application read the log, and must not learn
	// it (services/webhooks seals and opens it).
	SealedSecret string `json:"sealedSecret"`
}

// Wants reports whether the webhook receives events of type t.
func (w *Webhook) Wants(t Type) bool {
	return slices.Contains(w.Events, AllEventNames) || slices.Contains(w.Events, t.Dotted())
}

// WebhooksChanged replaces an application's webhooks with Webhooks (empty:
// none). Each webhook receives the events stored after the change that
// added it, until the change that removes it.
type WebhooksChanged struct {
	Webhooks []Webhook `json:"webhooks"`
}

func (*WebhooksChanged) EventType() Type { return TypeWebhooksChanged }
func (*WebhooksChanged) scopeID() string { return "" }
func (e *WebhooksChanged) Validate() error {
	if len(e.Webhooks) > MaxWebhooks {
		return fmt.Errorf("webhooks: at most %d", MaxWebhooks)
	}
	seen := map[string]bool{}
	for i, w := range e.Webhooks {
		if !ValidID(w.ID) {
			return fmt.Errorf("webhooks[%d].id: invalid id %q", i, w.ID)
		}
		if seen[w.ID] {
			return fmt.Errorf("webhooks[%d].id: %q listed twice", i, w.ID)
		}
		seen[w.ID] = true
		if err := CheckWebhookURL(w.URL); err != nil {
			return fmt.Errorf("webhooks[%d].url: %w", i, err)
		}
		if err := CheckWebhookEvents(w.Events); err != nil {
			return fmt.Errorf("webhooks[%d].events: %w", i, err)
		}
		if w.SealedSecret == "" || len(w.SealedSecret) > MaxSealedSecret {
			return fmt.Errorf("webhooks[%d].sealedSecret: empty or longer than %d bytes", i, MaxSealedSecret)
		}
		if err := checkText(fmt.Sprintf("webhooks[%d].sealedSecret", i), w.SealedSecret); err != nil {
			return err
		}
	}
	return nil
}

// CheckWebhookURL accepts absolute http and https URLs with a host, no user
// information and no fragment.
func CheckWebhookURL(raw string) error {
	if len(raw) > MaxWebhookURL {
		return fmt.Errorf("longer than %d bytes", MaxWebhookURL)
	}
	if err := checkText("url", raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q: only http and https", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("no host")
	case u.User != nil:
		return fmt.Errorf("credentials in the URL: put them in a secret instead")
	case u.Fragment != "":
		return fmt.Errorf("a fragment is never sent")
	}
	return nil
}

// CheckWebhookEvents accepts a non-empty list of distinct dotted names of
// event types clients may see, or "*".
func CheckWebhookEvents(names []string) error {
	if len(names) == 0 || len(names) > MaxWebhookEvents {
		return fmt.Errorf("between 1 and %d event names", MaxWebhookEvents)
	}
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("%q listed twice", n)
		}
		if n == AllEventNames {
			continue
		}
		if !deliverableName(n) {
			return fmt.Errorf("%q is not an event type (known: %v)", n, DeliverableNames())
		}
	}
	return nil
}

func deliverableName(n string) bool { return slices.Contains(DeliverableNames(), n) }

// DeliverableNames are the dotted names of the event types a webhook may
// receive: every type but the internal ones.
func DeliverableNames() []string {
	var out []string
	for _, t := range known.types {
		if s := known.specs[t]; !s.Internal {
			out = append(out, s.dotted)
		}
	}
	return out
}
