-- name: GetConversation :one
SELECT * FROM conversations WHERE app = $1 AND id = $2;

-- name: GetParticipant :one
SELECT * FROM participants WHERE app = $1 AND conversation_id = $2 AND user_id = $3;

-- name: ListParticipants :many
SELECT * FROM participants WHERE app = $1 AND conversation_id = $2 ORDER BY joined_seq, user_id;

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

-- name: SyncHorizon :one
-- The first position sync answers from (see migration 0004).
SELECT coalesce((SELECT horizon FROM sync_horizon LIMIT 1), 0)::bigint;

-- name: SyncNewMessages :many
-- message.new for a user after since: the approved messages decided while
-- the user was a member, with the content as posted (empty once deleted).
SELECT m.id, m.client_msg_id, m.conversation_id, m.sender_id, m.sender_type,
       coalesce(m.original_content, m.content)::text AS content, m.content_type, m.attachment_id, m.reply_to,
       m.created_at, m.seq, m.moderated_seq::bigint AS moderated_seq,
       coalesce(m.moderated_at, m.created_at)::timestamptz AS moderated_at
FROM memberships ms
CROSS JOIN LATERAL (
    SELECT * FROM messages x
    WHERE x.app = ms.app AND x.conversation_id = ms.conversation_id
      AND x.moderated_seq > greatest(@since::bigint, ms.from_seq - 1)
      AND x.moderated_seq <= coalesce(ms.to_seq, 9223372036854775807)
      AND x.moderation_status = 'approved'
    ORDER BY x.moderated_seq
    LIMIT @max_rows
) m
WHERE ms.app = @app AND ms.user_id = @user_id AND (ms.to_seq IS NULL OR ms.to_seq > @since::bigint)
ORDER BY m.moderated_seq
LIMIT @max_rows;

-- name: SyncModerationResults :many
-- moderation.result for a sender after since, whatever their membership.
SELECT id, client_msg_id, conversation_id, moderation_status, moderation_reason,
       moderated_seq::bigint AS moderated_seq, coalesce(moderated_at, created_at)::timestamptz AS moderated_at
FROM messages
WHERE app = @app AND sender_id = @user_id AND moderated_seq > @since::bigint
ORDER BY moderated_seq
LIMIT @max_rows;

-- name: SyncFeed :many
-- A user's conversation deliveries after since (conversation.*, member.*,
-- message.edited, message.deleted), while a member and in the audience.
SELECT f.seq, f.type, f.at, f.data
FROM memberships ms
CROSS JOIN LATERAL (
    SELECT * FROM conversation_feed x
    WHERE x.app = ms.app AND x.conversation_id = ms.conversation_id
      AND x.seq > greatest(@since::bigint, ms.from_seq - 1)
      AND x.seq <= coalesce(ms.to_seq, 9223372036854775807)
      AND (x.audience IS NULL OR @user_id::text = ANY(x.audience))
    ORDER BY x.seq
    LIMIT @max_rows
) f
WHERE ms.app = @app AND ms.user_id = @user_id AND (ms.to_seq IS NULL OR ms.to_seq > @since::bigint)
ORDER BY f.seq
LIMIT @max_rows;

-- name: SyncReceipts :many
-- read.receipt and delivery.receipt for a user after since, as SyncFeed.
SELECT r.event_seq::bigint AS event_seq, r.kind, r.at, r.conversation_id, r.user_id, r.message_id::text AS message_id, r.seq
FROM memberships ms
CROSS JOIN LATERAL (
    SELECT * FROM receipts x
    WHERE x.app = ms.app AND x.conversation_id = ms.conversation_id
      AND x.event_seq > greatest(@since::bigint, ms.from_seq - 1)
      AND x.event_seq <= coalesce(ms.to_seq, 9223372036854775807)
      AND (x.audience IS NULL OR @user_id::text = ANY(x.audience))
    ORDER BY x.event_seq
    LIMIT @max_rows
) r
WHERE ms.app = @app AND ms.user_id = @user_id AND (ms.to_seq IS NULL OR ms.to_seq > @since::bigint)
ORDER BY r.event_seq
LIMIT @max_rows;
