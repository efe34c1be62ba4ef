-- name: ModerationQueue :many
-- The messages of an application held for review, oldest first (a message
-- not decided yet is pending too, without a decision's position).
SELECT * FROM messages
WHERE app = @app AND moderation_status = 'pending' AND moderated_seq IS NOT NULL AND seq > @after::bigint
ORDER BY seq
LIMIT @max_rows;

-- name: InsertHeldDecision :batchexec
INSERT INTO held_decisions (app, message_id, seq, at, reason) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING;

-- name: SyncHeldResults :many
-- moderation.result pending for a sender after since, of the holds a later
-- decision replaced (the message's row gives its last decision).
SELECT m.id, m.client_msg_id, m.conversation_id, h.reason, h.seq, h.at
FROM held_decisions h
JOIN messages m ON m.app = h.app AND m.id = h.message_id
WHERE h.app = @app AND m.sender_id = @user_id AND h.seq > @since::bigint AND h.seq < m.moderated_seq
ORDER BY h.seq
LIMIT @max_rows;
