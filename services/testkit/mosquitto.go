package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Mosquitto starts a real mosquitto on a free loopback port with the
// project's ACL file (deploy/mosquitto/acl) and a password file holding
// users (name → password). It returns the broker's tcp:// URL.
func Mosquitto(t testing.TB, users map[string]string) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr != nil {
			missing(t, "mosquitto binary: %v", err)
		}
		bin = "/usr/sbin/mosquitto"
	}
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		missing(t, "mosquitto_passwd binary: %v", err)
	}
	dir := t.TempDir()
	// mosquitto started as root drops to the mosquitto user unless told to
	// stay root; either way it must read these files.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "passwd")
	for user, pw := range users {
		args := []string{"-b", pwFile, user, pw}
		if _, err := os.Stat(pwFile); err != nil {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v: %s", user, err, out)
		}
	}
	_ = os.Chmod(pwFile, 0o644)
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	lines := []string{
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"allow_anonymous false",
		"password_file " + pwFile,
		"acl_file " + filepath.Join(RepoRoot(t), "deploy", "mosquitto", "acl"),
		"persistence false",
		"retain_available false",
		"max_queued_messages 0",
		"max_inflight_messages 0",
		"set_tcp_nodelay true", // as deploy/mosquitto/mosquitto.conf
		"log_dest stderr",
		"log_type error",
		"log_type warning",
	}
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	Eventually(t, 15*time.Second, "mosquitto to listen on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("mosquitto exited: %s", log.String())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "tcp://" + addr
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
