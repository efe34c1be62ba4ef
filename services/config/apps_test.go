package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/config"
)

func writeYAML(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apps.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuiltInApplicationsMatchTheSeeds(t *testing.T) {
	apps, err := config.LoadApps("")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 {
		t.Fatalf("built-in apps = %v, want geosector and resalice", apps)
	}
	geo, res := apps["geosector"], apps["resalice"]
	if geo == nil || res == nil {
		t.Fatalf("built-in apps = %v", apps)
	}
	if !geo.Moderation.Enabled || !geo.Announcements || geo.AnonymousChat {
		t.Errorf("geosector = %+v, want moderation on, announcements on, anonymous chat off", geo)
	}
	if res.Moderation.Enabled || res.Announcements || !res.AnonymousChat {
		t.Errorf("resalice = %+v, want moderation off, no announcements, anonymous chat on", res)
	}
	if geo.TopicPrefix != "chat" {
		t.Errorf("geosector topic prefix = %q, want the protocol's chat", geo.TopicPrefix)
	}
	if geo.Name != "geosector" || res.Name != "resalice" {
		t.Errorf("names = %q, %q", geo.Name, res.Name)
	}
	for _, a := range apps {
		if a.Limits.MaxContentBytes <= 0 || a.Limits.MaxGroupMembers <= 0 {
			t.Errorf("%s limits not filled: %+v", a.Name, a.Limits)
		}
		if !a.IsAdminRole("admin") || !a.IsAdminRole("super_admin") || a.IsAdminRole("member") {
			t.Errorf("%s admin roles = %v", a.Name, a.AdminRoles)
		}
	}
	if apps.ByPrefix("chat") != geo || apps.ByPrefix("resalice") != res || apps.ByPrefix("geosector") != nil {
		t.Error("ByPrefix does not name the application by its topic prefix")
	}
}

func TestDefaultsAreFreshEachCall(t *testing.T) {
	a := config.Defaults()
	a["geosector"].Moderation.BadWords[0] = "changed"
	if b := config.Defaults(); b["geosector"].Moderation.BadWords[0] == "changed" {
		t.Fatal("Defaults shares state between callers")
	}
}

func TestApplicationsFileFillsDefaults(t *testing.T) {
	apps, err := config.LoadApps(writeYAML(t, `
applications:
  acme:
    moderation:
      enabled: true
      badWords: ["  Crétin ", "IDIOT"]
    adminRoles: ["7", "boss"]
  beta:
    topicPrefix: b
    limits:
      maxContentBytes: 100
      maxGroupMembers: 5
      commandsPerSecond: 0.5
      restWriteBurst: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps["geosector"] != nil {
		t.Fatalf("apps = %v, want exactly the file's (it replaces the defaults)", apps)
	}
	acme, beta := apps["acme"], apps["beta"]
	if acme.Name != "acme" || acme.TopicPrefix != "acme" {
		t.Errorf("acme name %q prefix %q, want the id for both", acme.Name, acme.TopicPrefix)
	}
	if acme.Limits.MaxContentBytes != 8000 || acme.Limits.MaxGroupMembers != 1000 {
		t.Errorf("acme limits = %+v, want 8000/1000", acme.Limits)
	}
	if !slices.Equal(acme.Moderation.BadWords, []string{"crétin", "idiot"}) {
		t.Errorf("bad words = %q, want trimmed lower case", acme.Moderation.BadWords)
	}
	if !acme.IsAdminRole("7") || acme.IsAdminRole("admin") {
		t.Errorf("acme admin roles = %v", acme.AdminRoles)
	}
	if beta.TopicPrefix != "b" || beta.Limits.MaxContentBytes != 100 || beta.Limits.MaxGroupMembers != 5 {
		t.Errorf("beta = %+v", beta)
	}
	if l := acme.Limits; l.CommandsPerSecond != 20 || l.CommandBurst != 100 || l.RESTWritesPerSecond != 5 || l.RESTWriteBurst != 30 {
		t.Errorf("acme rate limits = %+v, want the defaults 20/100 and 5/30", l)
	}
	if l := beta.Limits; l.CommandsPerSecond != 0.5 || l.CommandBurst != 100 || l.RESTWritesPerSecond != 5 || l.RESTWriteBurst != 3 {
		t.Errorf("beta rate limits = %+v, want the file's values and defaults for the rest", l)
	}
	if acme.AnonymousChat || acme.Announcements {
		t.Errorf("unset booleans are on: %+v", acme)
	}
}

func TestLoadAppsRefusesBadFiles(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"empty file", "", ""},
		{"only a comment", "# nothing\n", ""},
		{"no applications", "applications: {}\n", "no applications defined"},
		{"applications key missing", "other: 1\n", "other"},
		{"unknown top-level field", "applications:\n  a: {}\nextra: true\n", "extra"},
		{"unknown app field", "applications:\n  a:\n    topicprefix: x\n", "topicprefix"},
		{"misspelt nested field", "applications:\n  a:\n    moderation:\n      badword: [x]\n", "badword"},
		{"wrong type", "applications:\n  a:\n    anonymousChat: maybe\n", ""},
		{"not YAML", "applications: [\n", ""},
		{"duplicate topic prefix", "applications:\n  a:\n    topicPrefix: p\n  b:\n    topicPrefix: p\n", `share topicPrefix "p"`},
		{"prefix equal to another app's id", "applications:\n  chat: {}\n  geo:\n    topicPrefix: chat\n", `share topicPrefix "chat"`},
		{"app id with dot", "applications:\n  geo.sector: {}\n", "id must match"},
		{"app id with slash", "applications:\n  \"geo/sector\": {}\n", "id must match"},
		{"app id with space", "applications:\n  \"geo sector\": {}\n", "id must match"},
		{"prefix with slash", "applications:\n  a:\n    topicPrefix: chat/x\n", "topicPrefix"},
		{"prefix wildcard", "applications:\n  a:\n    topicPrefix: \"#\"\n", "topicPrefix"},
		{"prefix $SYS", "applications:\n  a:\n    topicPrefix: $SYS\n", "topicPrefix"},
		{"empty settings", "applications:\n  a:\n", "empty settings"},
		{"negative content limit", "applications:\n  a:\n    limits:\n      maxContentBytes: -1\n", "limits must be positive"},
		{"negative group limit", "applications:\n  a:\n    limits:\n      maxGroupMembers: -5\n", "limits must be positive"},
		{"negative command rate", "applications:\n  a:\n    limits:\n      commandsPerSecond: -1\n", "limits must be positive"},
		{"negative write burst", "applications:\n  a:\n    limits:\n      restWriteBurst: -2\n", "limits must be positive"},
		{"negative device burst", "applications:\n  a:\n    limits:\n      anonymousDeviceBurst: -1\n", "limits must be positive"},
		{"negative address rate", "applications:\n  a:\n    limits:\n      anonymousPerAddressPerMinute: -3\n", "limits must be positive"},
		{"negative token lifetime", "applications:\n  a:\n    limits:\n      anonymousTokenHours: -1\n", "limits must be positive"},
		{"negative file size", "applications:\n  a:\n    limits:\n      maxFileBytes: -1\n", "limits must be positive"},
		{"file types not a list", "applications:\n  a:\n    limits:\n      fileTypes: image/png\n", ""},
		{"blank bad word", "applications:\n  a:\n    moderation:\n      badWords: [\"ok\", \"  \"]\n", "empty bad word"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			apps, err := config.LoadApps(writeYAML(t, tc.yaml))
			if err == nil {
				t.Fatalf("LoadApps accepted: %v", apps)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestLoadAppsReportsAMissingFile(t *testing.T) {
	_, err := config.LoadApps(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("err = %v", err)
	}
}

// The example in deploy/ is what operators copy: it must load as it is.
func TestTheExampleApplicationsFileLoads(t *testing.T) {
	apps, err := config.LoadApps("../../deploy/config/applications.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if apps["geosector"] == nil || apps["resalice"] == nil {
		t.Fatalf("applications: %v", apps)
	}
}
