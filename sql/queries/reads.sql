-- name: GetConversation :one
SELECT * FROM conversations WHERE app = $1 AND id = $2;

-- name: GetParticipant :one
SELECT * FROM participants WHERE app = $1 AND conversation_id = $2 AND user_id = $3;

-- name: ListParticipants :many
SELECT * FROM participants WHERE app = $1 AND conversation_id = $2 ORDER BY joined_seq, user_id;

-- name: ListConversationsForUser :many
-- The caller's conversations, most recent activity first: the time of the
-- newest approved message, or the conversation's creation.
SELECT sqlc.embed(c), p.role AS my_role, p.last_read_seq,
       coalesce(last.created_at, c.created_at)::timestamptz AS last_activity_at,
       (SELECT count(*) FROM messages m
         WHERE m.app = c.app AND m.conversation_id = c.id AND m.moderation_status = 'approved'
           AND m.deleted_at IS NULL AND m.sender_id <> p.user_id AND m.seq > p.last_read_seq)::bigint AS unread_count
FROM participants p
JOIN conversations c ON c.app = p.app AND c.id = p.conversation_id
LEFT JOIN LATERAL (
    SELECT m.created_at FROM messages m
    WHERE m.app = c.app AND m.conversation_id = c.id AND m.moderation_status = 'approved'
    ORDER BY m.seq DESC LIMIT 1
) last ON true
WHERE p.app = $1 AND p.user_id = $2
ORDER BY last_activity_at DESC, c.id
LIMIT $3;

-- name: LastMessages :many
SELECT DISTINCT ON (m.conversation_id) m.*
FROM messages m
WHERE m.app = $1 AND m.conversation_id = ANY(@conversation_ids::text[]) AND m.moderation_status = 'approved'
ORDER BY m.conversation_id, m.seq DESC;

-- name: ListMessages :many
-- History of one conversation, newest first: approved messages, plus the
-- viewer's own messages whatever their status.
SELECT * FROM messages
WHERE app = @app AND conversation_id = @conversation_id
  AND (moderation_status = 'approved' OR sender_id = @viewer)
  AND seq < @before AND seq > @after
ORDER BY seq DESC
LIMIT @max_rows;

-- name: MessageConversation :one
-- Where a message lives, to decide a command about it on that
-- conversation's log (the decision itself never reads this table).
SELECT conversation_id FROM messages WHERE app = $1 AND id = $2;

-- name: GetMessage :one
SELECT * FROM messages WHERE app = $1 AND id = $2;

-- name: MessageReceipts :many
-- Who among the conversation's participants (the message's sender aside)
-- has received or read the message at position seq, and since when: the
-- first receipt of each kind at or past it.
SELECT r.user_id, r.kind, min(r.at)::timestamptz AS at
FROM receipts r
JOIN participants p ON p.app = r.app AND p.conversation_id = r.conversation_id AND p.user_id = r.user_id
WHERE r.app = @app AND r.conversation_id = @conversation_id AND r.seq >= @seq AND r.user_id <> @sender_id
GROUP BY r.user_id, r.kind
ORDER BY r.user_id, r.kind;
