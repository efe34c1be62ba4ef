package sql_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
)

// A migration merged after a later-numbered one (two branches) still runs:
// a schema that recorded only the last migration gets every other one.
func TestMigrateAppliesEveryMigrationNotYetApplied(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testkit.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ms, err := chatsql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1]
	for _, q := range []string{
		"CREATE SCHEMA early",
		"CREATE TABLE early.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "INSERT INTO early.schema_migrations (version, name) VALUES ($1, $2)", last.Version, last.Name); err != nil {
		t.Fatal(err)
	}
	if err := chatsql.Migrate(ctx, conn, "early"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM early.schema_migrations").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("%d migrations recorded, want %d (%v)", n, len(ms), err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'early' AND table_name = 'messages'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the first migration did not run: %d %v", n, err)
	}
	// Once more changes nothing.
	if err := chatsql.Migrate(ctx, conn, "early"); err != nil {
		t.Fatal(err)
	}
}
