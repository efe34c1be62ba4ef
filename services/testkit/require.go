// Package testkit is the shared test harness: real servers started by the
// tests themselves (Postgres databases cloned from a migrated template, NATS,
// chatd, Mosquitto) and MQTT/HTTP clients that drive them as users would.
package testkit

import (
	"os"
	"testing"
)

// missing reports a server the test needs and cannot find: under CI=true it
// fails the test, elsewhere it skips it, saying why, never silently.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required server missing under CI: "+format, args...)
	}
	t.Skipf("SKIPPED, server missing (run `go tool task test`): "+format, args...)
}
