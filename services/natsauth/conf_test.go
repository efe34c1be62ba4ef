package natsauth

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
)

func TestConfigEntryIsAUserNATSServerLoadsWithTheServicePermissions(t *testing.T) {
	s := Service{App: "geosector", Name: "support-bot"}
	entry, err := ConfigEntry(s, "the-password")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	conf := "authorization {\n users: [\n  { user: chatd, password: x }\n" + entry + " ]\n}\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the entry: %v\n%s", err, conf)
	}
	i := slices.IndexFunc(o.Users, func(u *server.User) bool { return u.Username == s.User() })
	if i < 0 {
		t.Fatalf("no user %s in %s", s.User(), conf)
	}
	u, want := o.Users[i], Permissions(s)
	if bcrypt.CompareHashAndPassword([]byte(u.Password), []byte("the-password")) != nil {
		t.Fatalf("stored password %q is not a bcrypt hash of the password", u.Password)
	}
	if !slices.Equal(u.Permissions.Publish.Allow, want.Publish.Allow) || !slices.Equal(u.Permissions.Subscribe.Allow, want.Subscribe.Allow) {
		t.Fatalf("permissions %+v %+v, want %+v %+v", u.Permissions.Publish, u.Permissions.Subscribe, want.Publish, want.Subscribe)
	}
}
