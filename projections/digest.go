package projections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Tables lists every read-model table with the key that orders its rows, for
// deterministic digests. A test checks no table of the schema is missing.
var Tables = []struct{ Name, Order string }{
	{"conversations", "app, id"},
	{"participants", "app, conversation_id, user_id"},
	{"messages", "app, id"},
	{"receipts", "app, conversation_id, user_id, kind, seq"},
	{"memberships", "app, conversation_id, user_id, from_seq"},
	{"conversation_feed", "app, seq"},
	{"held_decisions", "app, message_id, seq"},
	{"groups", "app, id"},
	{"group_members", "app, group_id, user_id"},
	{"group_join_requests", "app, group_id, user_id"},
	{"group_conversations", "app, group_id, conversation_id"},
	{"group_memberships", "app, group_id, user_id, from_seq"},
	{"group_feed", "app, seq"},
	{"user_settings", "app, user_id"},
	{"user_feed", "app, user_id, seq"},
	{"notification_marks", "app, user_id"},
	{"directory_users", "app, user_id"},
	{"announcements", "app, id"},
	{"announcement_recipients", "app, announcement_id, user_id"},
	{"projection_checkpoints", "name"},
}

// Transient tables hold nothing between transactions, nothing derived from
// the log, or (pendingIndexes) exist only while a replay builds its schema:
// digests leave them out.
var Transient = []string{"schema_migrations", "message_staging", "sync_horizon", pendingIndexes}

// Digest hashes every row of each table of schema in key order: two read
// models with equal digests hold the same rows.
func Digest(ctx context.Context, conn *pgx.Conn, schema string) (map[string]string, error) {
	out := make(map[string]string, len(Tables))
	for _, t := range Tables {
		h := sha256.New()
		q := fmt.Sprintf("SELECT t::text FROM %s t ORDER BY %s", pgx.Identifier{schema, t.Name}.Sanitize(), t.Order)
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, fmt.Errorf("digest %s.%s: %w", schema, t.Name, err)
		}
		n := 0
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return nil, fmt.Errorf("digest %s.%s: %w", schema, t.Name, err)
			}
			h.Write([]byte(line))
			h.Write([]byte{'\n'})
			n++
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("digest %s.%s: %w", schema, t.Name, err)
		}
		out[t.Name] = fmt.Sprintf("%s (%d rows)", hex.EncodeToString(h.Sum(nil))[:16], n)
	}
	return out, nil
}

// DigestDiff names the tables whose digests differ, with both digests.
func DigestDiff(a, b map[string]string) []string {
	var diff []string
	for _, t := range Tables {
		if a[t.Name] != b[t.Name] {
			diff = append(diff, fmt.Sprintf("%s: %s vs %s", t.Name, a[t.Name], b[t.Name]))
		}
	}
	return diff
}

// FormatDigest prints one line per table.
func FormatDigest(d map[string]string) string {
	var b strings.Builder
	for _, t := range Tables {
		fmt.Fprintf(&b, "  %-24s %s\n", t.Name, d[t.Name])
	}
	return b.String()
}
