package main

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/natsauth"
	"github.com/chatbackend/chat/services/testkit"
)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestServicePrintsAURLThatConnectsAndCreatesTheAccountOnce(t *testing.T) {
	c := daemontest.Chatd(t)
	args := []string{"service", "--app=geosector", "--name=support-bot", "--data-dir=" + c.Cfg.DataDir,
		"--jwt-secret=" + string(daemontest.Secret), "--nats-addr=" + strings.TrimPrefix(c.Daemon.NATSURL(), "nats://")}
	before := c.LastSeq()
	code, out, errOut := chatctl(noEnv, args...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if c.LastSeq() != before+1 {
		t.Fatalf("the log went from %d to %d, want one event", before, c.LastSeq())
	}
	url := lastLine(out)
	svc := natsauth.Service{App: "geosector", Name: "support-bot"}
	if !strings.HasPrefix(url, "nats://"+svc.User()+":") {
		t.Fatalf("last line %q is not the service's NATS URL", url)
	}
	nc, err := nats.Connect(url, nats.CustomInboxPrefix(svc.InboxPrefix()))
	if err != nil {
		t.Fatalf("the printed URL does not connect: %v", err)
	}
	nc.Close()

	code, again, errOut := chatctl(noEnv, args...)
	if code != 0 || lastLine(again) != url {
		t.Fatalf("second run: exit %d, last line %q (first %q), stderr %q", code, lastLine(again), url, errOut)
	}
	if !strings.Contains(again, "exists") || c.LastSeq() != before+1 {
		t.Fatalf("the second run appended: log at %d, stdout %q", c.LastSeq(), again)
	}
}

func TestServiceOnAnExternalNATSPrintsTheUserTheOperatorAdds(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	code, out, errOut := chatctl(noEnv, "service", "--app=geosector", "--name=bot", "--data-dir="+t.TempDir(),
		"--jwt-secret="+secret, "--nats-url="+js.Conn().ConnectedUrl())
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	svc := natsauth.Service{App: "geosector", Name: "bot"}
	for _, want := range []string{"cannot add users to an external NATS", `user: "` + svc.User() + `"`, `password: "$2a$11$`,
		`"chat.cmd.geosector.>"`, `"_INBOX_` + svc.User() + `.>"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
	host := strings.SplitN(js.Conn().ConnectedUrl(), "@", 2)[1]
	if url := lastLine(out); !strings.HasPrefix(url, "nats://"+svc.User()+":") || !strings.HasSuffix(url, "@"+host) {
		t.Fatalf("last line %q, want the service's URL on %s", url, host)
	}
}

func TestServiceRefusesBadFlags(t *testing.T) {
	base := []string{"service", "--jwt-secret=" + secret, "--data-dir=" + t.TempDir()}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing app", []string{"--name=bot"}, "--app and --name are required"},
		{"missing name", []string{"--app=geosector"}, "--app and --name are required"},
		{"invalid app", []string{"--app=geo.sector", "--name=bot"}, `app "geo.sector"`},
		{"name with underscore", []string{"--app=geosector", "--name=my_bot"}, `service name "my_bot"`},
		{"upper-case name", []string{"--app=geosector", "--name=Bot"}, `service name "Bot"`},
		{"long name", []string{"--app=geosector", "--name=" + strings.Repeat("b", 33)}, "service name"},
		{"unknown app", []string{"--app=nope", "--name=bot"}, `unknown application "nope"`},
		{"stray argument", []string{"--app=geosector", "--name=bot", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := chatctl(noEnv, append(base, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q, want 2 and %q", code, errOut, tc.want)
			}
			if strings.Contains(out, "nats://") {
				t.Fatalf("a URL was printed on a usage error: %q", out)
			}
		})
	}
}
