package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/natsauth"
)

// server is the chatd under test, run as its own process so its CPU and
// memory are its own, with a fresh database and data directory.
type server struct {
	cmd       *exec.Cmd
	dir       string
	httpAddr  string
	mqttAddr  string // where clients connect (embedded broker or mosquitto)
	natsURL   string
	dbURL     string
	dbName    string
	adminURL  string
	mosquitto *exec.Cmd
	broker    string
	secret    string
}

const benchSecret = "bench-secret-bench-secret-bench-secret-0123"

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer starts mosquitto (when asked) and chatd, and waits until chatd
// is ready.
func startServer(ctx context.Context, o *options, users []string) (*server, error) {
	dir, err := os.MkdirTemp("", "chatbench-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, httpAddr: freeAddr(), natsURL: "nats://" + freeAddr(), adminURL: o.databaseURL,
		broker: o.broker, secret: benchSecret}
	if err := s.createDatabase(ctx); err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "apps.yaml")
	apps := `applications:
  geosector:
    topicPrefix: chat
    moderation: {enabled: true, badWords: [idiot]}
    announcements: true
    adminRoles: [admin]
    superAdminRoles: [super_admin]
    entityAdminRoles: [admin]
    # Each simulated sender posts far faster than a person: lift the
    # per-user rates so the benchmark measures the message path, not them.
    limits: {maxGroupMembers: 20000, commandsPerSecond: 1000000, commandBurst: 1000000,
      restWritesPerSecond: 1000000, restWriteBurst: 1000000}
`
	if err := os.WriteFile(cfgFile, []byte(apps), 0o644); err != nil {
		return nil, err
	}
	args := []string{"--http-addr=" + s.httpAddr, "--nats-addr=" + strings.TrimPrefix(s.natsURL, "nats://"),
		"--mqtt-ws-addr=off", "--data-dir=" + filepath.Join(dir, "data"), "--database-url=" + s.dbURL,
		"--jwt-secret=" + benchSecret, "--config=" + cfgFile, "--pprof"}
	if o.broker == "mosquitto" {
		if err := s.startMosquitto(ctx, users); err != nil {
			return nil, err
		}
		args = append(args, "--mqtt-url=tcp://"+s.mqttAddr, "--mqtt-username=chat-bridge", "--mqtt-password=pw-chat-bridge")
	} else {
		s.mqttAddr = freeAddr()
		args = append(args, "--mqtt-addr="+s.mqttAddr)
	}
	s.cmd = exec.Command(o.chatd, args...)
	logf, err := os.Create(filepath.Join(dir, "chatd.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start chatd: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if err := s.withNATSCredentials(); err != nil {
					s.stop()
					return nil, err
				}
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("chatd not ready after 60s; see %s", logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withNATSCredentials puts chatd's NATS account, generated into its data
// directory on first start, into natsURL.
func (s *server) withNATSCredentials() error {
	secret, err := (&config.Config{DataDir: filepath.Join(s.dir, "data")}).NATSSecret()
	if err != nil {
		return err
	}
	u, err := url.Parse(s.natsURL)
	if err != nil {
		return err
	}
	u.User = url.UserPassword(natsauth.ChatdUser, secret)
	s.natsURL = u.String()
	return nil
}

func (s *server) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	s.dbName = fmt.Sprintf("chat_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+s.dbName); err != nil {
		return fmt.Errorf("create bench database: %w", err)
	}
	u, err := url.Parse(s.adminURL)
	if err != nil {
		return err
	}
	u.Path = "/" + s.dbName
	s.dbURL = u.String()
	return nil
}

func (s *server) startMosquitto(ctx context.Context, users []string) error {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	pw := filepath.Join(s.dir, "passwd")
	var b strings.Builder
	for _, u := range append(users, "chat-bridge") {
		fmt.Fprintf(&b, "%s:pw-%s\n", u, u)
	}
	if err := os.WriteFile(pw, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "mosquitto_passwd", "-U", pw).CombinedOutput(); err != nil {
		return fmt.Errorf("mosquitto_passwd -U: %v: %s", err, out)
	}
	_ = os.Chmod(s.dir, 0o755)
	_ = os.Chmod(pw, 0o644)
	wd, _ := os.Getwd()
	s.mqttAddr = freeAddr()
	_, port, _ := net.SplitHostPort(s.mqttAddr)
	conf := filepath.Join(s.dir, "mosquitto.conf")
	lines := []string{"listener " + port + " 127.0.0.1", "allow_anonymous false", "password_file " + pw,
		"acl_file " + filepath.Join(wd, "deploy", "mosquitto", "acl"), "persistence false",
		"max_queued_messages 0", "max_inflight_messages 0", "max_connections -1", "log_dest stderr", "log_type error",
		// As deploy/mosquitto/mosquitto.conf: no Nagle stall on small packets.
		"set_tcp_nodelay true", "retain_available false"}
	if os.Geteuid() == 0 {
		lines = append(lines, "user root")
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	// mosquitto keeps the soft descriptor limit it is given: raise it.
	s.mosquitto = exec.Command("sh", "-c", "ulimit -n $(ulimit -Hn); exec "+bin+" -c "+conf)
	logf, _ := os.Create(filepath.Join(s.dir, "mosquitto.log"))
	s.mosquitto.Stdout, s.mosquitto.Stderr = logf, logf
	if err := s.mosquitto.Start(); err != nil {
		return fmt.Errorf("start mosquitto: %w", err)
	}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", s.mqttAddr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("mosquitto did not listen; see %s", logf.Name())
}

// password is what user presents to the broker under test.
func (s *server) password(user, token string) string {
	if s.broker == "mosquitto" {
		return "pw-" + user
	}
	return token
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	if s.mosquitto != nil && s.mosquitto.Process != nil {
		_ = s.mosquitto.Process.Kill()
		_ = s.mosquitto.Wait()
	}
	if s.dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, s.adminURL); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.dbName+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	_ = os.RemoveAll(s.dir)
}

// rssKB is the resident memory of a process in KiB.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the user+system CPU a process has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// selfCPU is the load generator's own CPU.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fetch saves an HTTP resource of chatd to a file.
func (s *server) fetch(path, file string) error {
	resp, err := http.Get("http://" + s.httpAddr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// postgresCPU is the CPU used so far by each PostgreSQL process (the
// projector's writes and the API's reads land there), by pid.
func postgresCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.HasPrefix(string(comm), "postgres") {
			out[pid] = cpuTime(pid)
		}
	}
	return out
}

// cpuSince is the CPU PostgreSQL used since the snapshot before; processes
// that ended meanwhile are not counted.
func cpuSince(before map[int]time.Duration) time.Duration {
	var total time.Duration
	for pid, now := range postgresCPU() {
		total += now - before[pid] // a new process counts whole
	}
	return total
}
