package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/ratelimit"
)

// App is one tenant's settings.
type App struct {
	Name string `yaml:"-"`
	// TopicPrefix is the first MQTT topic level of this application's clients.
	// Prefixes are distinct, so the topic alone names the application.
	TopicPrefix   string     `yaml:"topicPrefix"`
	Moderation    Moderation `yaml:"moderation"`
	AnonymousChat bool       `yaml:"anonymousChat"`
	Announcements bool       `yaml:"announcements"`
	// AdminRoles are the token roles that administer the application.
	AdminRoles []string `yaml:"adminRoles"`
	// SuperAdminRoles are the token roles that may announce to any entity
	// and role; EntityAdminRoles those that may announce to the users of
	// their own entity (the token's entity claim). Announcements only.
	SuperAdminRoles  []string `yaml:"superAdminRoles"`
	EntityAdminRoles []string `yaml:"entityAdminRoles"`
	Limits           Limits   `yaml:"limits"`
}

// Moderation holds the automatic rules an application starts with: chatd
// records them in the log once (ModerationRulesChanged), and from then on
// the log decides (PUT /moderation/rules changes them). See
// events.ModerationRules for their meaning.
type Moderation struct {
	Enabled             bool     `yaml:"enabled"`
	BadWords            []string `yaml:"badWords"`
	BadWordsAction      string   `yaml:"badWordsAction"`
	FloodLimit          int      `yaml:"floodLimit"`
	FloodWindowSeconds  int      `yaml:"floodWindowSeconds"`
	URLLimit            int      `yaml:"urlLimit"`
	RepetitionThreshold float64  `yaml:"repetitionThreshold"`
	MaxLength           int      `yaml:"maxLength"`
	ContentTypes        []string `yaml:"contentTypes"`
	HoldAll             bool     `yaml:"holdAll"`
}

// Rules is the file's rules as the log's document, defaults filled in.
func (m Moderation) Rules() events.ModerationRules {
	r := events.ModerationRules{Enabled: m.Enabled, BadWords: slices.Clone(m.BadWords), BadWordsAction: m.BadWordsAction,
		FloodLimit: m.FloodLimit, FloodWindowSeconds: m.FloodWindowSeconds, URLLimit: m.URLLimit,
		RepetitionThreshold: m.RepetitionThreshold, MaxLength: m.MaxLength, ContentTypes: slices.Clone(m.ContentTypes), HoldAll: m.HoldAll}
	return DefaultRules(r)
}

// DefaultRules fills the fields a rules document may leave out.
func DefaultRules(r events.ModerationRules) events.ModerationRules {
	if r.BadWordsAction == "" {
		r.BadWordsAction = events.ActionReject
	}
	if r.FloodWindowSeconds == 0 {
		r.FloodWindowSeconds = events.DefaultFloodSpan
	}
	if r.BadWords == nil {
		r.BadWords = []string{}
	}
	if r.ContentTypes == nil {
		r.ContentTypes = []string{}
	}
	return r
}

// Limits bound what one client may send.
type Limits struct {
	MaxContentBytes int `yaml:"maxContentBytes"`
	MaxGroupMembers int `yaml:"maxGroupMembers"`
	// MemberEventsUpTo is the largest conversation whose members all hear of
	// every join and leave; beyond it only the member and the admins do.
	MemberEventsUpTo int `yaml:"memberEventsUpTo"`
	// ReceiptsToAllUpTo is the largest conversation whose members all get
	// every read.receipt and delivery.receipt; beyond it only the senders
	// of the messages a receipt covers (and the reader) do.
	ReceiptsToAllUpTo int `yaml:"receiptsToAllUpTo"`
	// Each user's MQTT commands and REST writes go through a token bucket:
	// PerSecond tokens come back each second, up to Burst. Service tokens
	// are not limited.
	CommandsPerSecond   float64 `yaml:"commandsPerSecond"`
	CommandBurst        int     `yaml:"commandBurst"`
	RESTWritesPerSecond float64 `yaml:"restWritesPerSecond"`
	RESTWriteBurst      int     `yaml:"restWriteBurst"`
	// POST /anonymous goes through two token buckets (anonymous.go): one
	// per device and one per client address.
	AnonymousPerDevicePerMinute  float64 `yaml:"anonymousPerDevicePerMinute"`
	AnonymousDeviceBurst         int     `yaml:"anonymousDeviceBurst"`
	AnonymousPerAddressPerMinute float64 `yaml:"anonymousPerAddressPerMinute"`
	AnonymousAddressBurst        int     `yaml:"anonymousAddressBurst"`
	// AnonymousTokenHours is how long a visitor's token lasts.
	AnonymousTokenHours int `yaml:"anonymousTokenHours"`
	// MaxFileBytes bounds one upload; FileTypes are the content types
	// (sniffed from the bytes) an upload may have.
	MaxFileBytes int64    `yaml:"maxFileBytes"`
	FileTypes    []string `yaml:"fileTypes"`
}

// fillRate gives a token bucket left out of the file its default shape.
func fillRate(perSecond *float64, burst *int, defPerSecond float64, defBurst int) {
	if *perSecond == 0 {
		*perSecond = defPerSecond
	}
	if *burst == 0 {
		*burst = defBurst
	}
}

// CommandRates is each application's bucket for one user's MQTT commands.
func (as Apps) CommandRates() map[string]ratelimit.Rate {
	return as.rates(func(l Limits) ratelimit.Rate {
		return ratelimit.Rate{PerSecond: l.CommandsPerSecond, Burst: l.CommandBurst}
	})
}

// RESTWriteRates is each application's bucket for one user's REST writes.
func (as Apps) RESTWriteRates() map[string]ratelimit.Rate {
	return as.rates(func(l Limits) ratelimit.Rate {
		return ratelimit.Rate{PerSecond: l.RESTWritesPerSecond, Burst: l.RESTWriteBurst}
	})
}

func (as Apps) rates(of func(Limits) ratelimit.Rate) map[string]ratelimit.Rate {
	out := make(map[string]ratelimit.Rate, len(as))
	for name, a := range as {
		out[name] = of(a.Limits)
	}
	return out
}

// IsAdminRole reports whether a token role administers the application.
func (a *App) IsAdminRole(role string) bool { return slices.Contains(a.AdminRoles, role) }

// Apps maps application ids to their settings.
type Apps map[string]*App

// ByPrefix returns the application whose clients use topic prefix p.
func (as Apps) ByPrefix(p string) *App {
	for _, a := range as {
		if a.TopicPrefix == p {
			return a
		}
	}
	return nil
}

// Defaults are the built-in applications of the seeds, with every default
// filled in, as LoadApps("") returns them.
func Defaults() Apps {
	apps, err := LoadApps("")
	if err != nil {
		panic("built-in applications: " + err.Error()) // a bug, caught by the tests
	}
	return apps
}

func builtin() Apps {
	return Apps{
		"geosector": {
			TopicPrefix:      "chat",
			Moderation:       Moderation{Enabled: true, BadWords: []string{"idiot", "imbecile", "connard"}},
			Announcements:    true,
			AdminRoles:       []string{"admin", "super_admin"},
			SuperAdminRoles:  []string{"super_admin"},
			EntityAdminRoles: []string{"admin"},
		},
		"resalice": {
			TopicPrefix:   "resalice",
			AnonymousChat: true,
			AdminRoles:    []string{"admin", "super_admin"},
		},
	}
}

type appsFile struct {
	Applications map[string]*App `yaml:"applications"`
}

// LoadApps reads the applications file, or returns the defaults when path is
// empty. A file replaces the defaults entirely: what it lists is what runs.
func LoadApps(path string) (Apps, error) {
	apps := builtin()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		var f appsFile
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if len(f.Applications) == 0 {
			return nil, fmt.Errorf("config %s: no applications defined", path)
		}
		apps = f.Applications
	}
	prefixes := map[string]string{}
	for name, a := range apps {
		if a == nil {
			return nil, fmt.Errorf("application %q: empty settings", name)
		}
		a.Name = name
		if !events.ValidID(name) {
			return nil, fmt.Errorf("application %q: id must match ^[A-Za-z0-9_-]{1,64}$", name)
		}
		if a.TopicPrefix == "" {
			a.TopicPrefix = name
		}
		if !events.ValidID(a.TopicPrefix) {
			return nil, fmt.Errorf("application %q: topicPrefix %q must be one topic level of [A-Za-z0-9_-]", name, a.TopicPrefix)
		}
		if other, dup := prefixes[a.TopicPrefix]; dup {
			return nil, fmt.Errorf("applications %q and %q share topicPrefix %q", other, name, a.TopicPrefix)
		}
		prefixes[a.TopicPrefix] = name
		if a.Limits.MaxContentBytes == 0 {
			a.Limits.MaxContentBytes = 8000
		}
		if a.Limits.MaxGroupMembers == 0 {
			a.Limits.MaxGroupMembers = 1000
		}
		if a.Limits.MemberEventsUpTo == 0 {
			a.Limits.MemberEventsUpTo = 256
		}
		if a.Limits.ReceiptsToAllUpTo == 0 {
			a.Limits.ReceiptsToAllUpTo = 50
		}
		fillRate(&a.Limits.CommandsPerSecond, &a.Limits.CommandBurst, 20, 100)
		fillRate(&a.Limits.RESTWritesPerSecond, &a.Limits.RESTWriteBurst, 5, 30)
		fillAnonymous(&a.Limits)
		fillFiles(&a.Limits)
		l := a.Limits
		if l.MaxContentBytes < 0 || l.MaxGroupMembers < 0 || l.MemberEventsUpTo < 0 || l.ReceiptsToAllUpTo < 0 ||
			l.CommandsPerSecond < 0 || l.CommandBurst < 0 || l.RESTWritesPerSecond < 0 || l.RESTWriteBurst < 0 ||
			!l.anonymousValid() || l.MaxFileBytes < 0 {
			return nil, fmt.Errorf("application %q: limits must be positive", name)
		}
		for _, r := range a.SuperAdminRoles {
			if slices.Contains(a.EntityAdminRoles, r) {
				return nil, fmt.Errorf("application %q: role %q is both a super admin and an entity admin role", name, r)
			}
		}
		for i, w := range a.Moderation.BadWords {
			a.Moderation.BadWords[i] = strings.ToLower(strings.TrimSpace(w))
			if a.Moderation.BadWords[i] == "" {
				return nil, errors.New("application " + name + ": empty bad word")
			}
		}
		rules := a.Moderation.Rules()
		if err := rules.Validate(); err != nil {
			return nil, fmt.Errorf("application %q: moderation: %w", name, err)
		}
	}
	return apps, nil
}
