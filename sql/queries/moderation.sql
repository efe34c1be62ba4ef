-- name: ModerationQueue :many
-- The messages of an application held for review, oldest first (a message
-- not decided yet is pending too, without a decision's position).
SELECT * FROM messages
WHERE app = @app AND moderation_status = 'pending' AND moderated_seq IS NOT NULL AND seq > @after::bigint
ORDER BY seq
LIMIT @max_rows;
