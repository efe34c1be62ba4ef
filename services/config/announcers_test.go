package config_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/testkit"
)

func TestGeosectorsSuperAndEntityAdminsAreItsBuiltInAnnouncers(t *testing.T) {
	apps := config.Defaults()
	geo, res := apps["geosector"], apps["resalice"]
	if !slices.Equal(geo.SuperAdminRoles, []string{"super_admin"}) || !slices.Equal(geo.EntityAdminRoles, []string{"admin"}) {
		t.Errorf("geosector announcers: super %v, entity %v", geo.SuperAdminRoles, geo.EntityAdminRoles)
	}
	if res.Announcements || len(res.SuperAdminRoles)+len(res.EntityAdminRoles) > 0 {
		t.Errorf("resalice announces: %v, super %v, entity %v", res.Announcements, res.SuperAdminRoles, res.EntityAdminRoles)
	}
}

func TestARoleCannotBeBothSuperAndEntityAdmin(t *testing.T) {
	_, err := config.LoadApps(writeYAML(t, `
applications:
  acme:
    announcements: true
    superAdminRoles: [boss]
    entityAdminRoles: [chief, boss]
`))
	if err == nil || !strings.Contains(err.Error(), `"boss"`) {
		t.Fatalf("got %v, want the role named", err)
	}
}

// The example file stays what the built-in settings are, announcers included.
func TestExampleApplicationsFileDeclaresTheAnnouncers(t *testing.T) {
	apps, err := config.LoadApps(filepath.Join(testkit.RepoRoot(t), "deploy", "config", "applications.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Defaults()["geosector"]
	if got := apps["geosector"]; !slices.Equal(got.SuperAdminRoles, want.SuperAdminRoles) || !slices.Equal(got.EntityAdminRoles, want.EntityAdminRoles) {
		t.Fatalf("example geosector announcers: super %v, entity %v; built in %v, %v",
			got.SuperAdminRoles, got.EntityAdminRoles, want.SuperAdminRoles, want.EntityAdminRoles)
	}
}
