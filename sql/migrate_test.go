package sql_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
)

// A migration merged after a later-numbered one (two branches) still runs.
func TestMigrateAppliesEveryMigrationNotYetApplied(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testkit.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := chatsql.Migrate(ctx, conn, "early"); err != nil {
		t.Fatal(err)
	}
	// Pretend the queue's migration came later than the rest: undo it.
	for _, q := range []string{"DROP INDEX early.messages_pending", "DELETE FROM early.schema_migrations WHERE version = 9"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := chatsql.Migrate(ctx, conn, "early"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'early' AND indexname = 'messages_pending'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the missing migration did not run: %d %v", n, err)
	}
	ms, err := chatsql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM early.schema_migrations").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("%d migrations recorded, want %d (%v)", n, len(ms), err)
	}
	// Once more changes nothing.
	if err := chatsql.Migrate(ctx, conn, "early"); err != nil {
		t.Fatal(err)
	}
}
