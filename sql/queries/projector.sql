-- name: InsertConversation :batchexec
INSERT INTO conversations (app, id, kind, title, reply_permission, created_by, created_at, created_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (app, id) DO NOTHING;

-- name: UpsertParticipants :exec
-- A batch's participant rows in one statement, one array per column (a
-- statement per row costs PostgreSQL more than the row; the arrays, of
-- equal length, unnest side by side). A batch holds a participant at most
-- once.
INSERT INTO participants (app, conversation_id, user_id, role, joined_at, joined_seq)
SELECT unnest(@app::text[]), unnest(@conversation_id::text[]), unnest(@user_id::text[]), unnest(@role::text[]),
       unnest(@joined_at::timestamptz[]), unnest(@joined_seq::bigint[])
ON CONFLICT (app, conversation_id, user_id) DO UPDATE SET role = excluded.role;

-- name: DeleteParticipant :batchexec
DELETE FROM participants WHERE app = $1 AND conversation_id = $2 AND user_id = $3;

-- name: InsertMessages :many
-- A batch's new messages, in one statement planned and executed once
-- rather than once per row (arrays of equal length, unnest side by side).
-- A repeated posting keeps the first row; if that row still awaits its
-- decision and this batch carries one, the decision is the first: apply it.
-- It returns each row it wrote as it now stands, whose approval the
-- projector then knows to stand without reading messages again. '', 0 and
-- the zero time (year 1) stand for NULL, which no id, reason, position or
-- decision time is. A batch holds a message once (the fold keeps its first
-- posting): one statement may not update a row twice.
INSERT INTO messages (app, id, conversation_id, client_msg_id, sender_id, sender_type, content, content_type,
                      attachment_id, reply_to, created_at, seq, moderation_status, moderation_reason, moderated_seq,
                      moderated_at)
SELECT unnest(@app::text[]), unnest(@id::text[]), unnest(@conversation_id::text[]), unnest(@client_msg_id::text[]),
       unnest(@sender_id::text[]), unnest(@sender_type::text[]), unnest(@content::text[]), unnest(@content_type::text[]),
       nullif(unnest(@attachment_id::text[]), ''), nullif(unnest(@reply_to::text[]), ''),
       unnest(@created_at::timestamptz[]), unnest(@seq::bigint[]), unnest(@moderation_status::text[]),
       nullif(unnest(@moderation_reason::text[]), ''), nullif(unnest(@moderated_seq::bigint[]), 0),
       nullif(unnest(@moderated_at::timestamptz[]), '0001-01-01 00:00:00+00')
ON CONFLICT (app, id) DO UPDATE
SET moderation_status = excluded.moderation_status, moderation_reason = excluded.moderation_reason,
    moderated_seq = excluded.moderated_seq, moderated_at = excluded.moderated_at
WHERE messages.moderated_seq IS NULL AND excluded.moderated_seq IS NOT NULL
RETURNING app, id, conversation_id, seq, moderation_status, moderated_seq;

-- name: ModerateMessage :batchexec
-- The first decision stands, unless it held the message for review: the
-- review's replaces it.
UPDATE messages SET moderation_status = $3, moderation_reason = $4, moderated_seq = $5, moderated_at = $6
WHERE app = $1 AND id = $2 AND (moderated_seq IS NULL OR moderation_status = 'pending');

-- name: LockProjection :exec
-- Taken by every projector transaction; replay's swap takes it to pause the
-- live projector of a schema while it renames schemas.
SELECT pg_advisory_xact_lock(hashtext('chat-projector:' || current_schema()));

-- name: GetCheckpoint :one
SELECT position FROM projection_checkpoints WHERE name = $1;

-- name: SetCheckpoint :exec
INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET position = excluded.position;

-- name: SetUpProjectorTransaction :exec
-- For the rest of a projector transaction:
-- - its commit need not wait for the flush: the log is the truth and the
--   checkpoint commits with the rows, so a transaction lost to a crash is
--   applied again;
-- - each statement is planned for its own values rather than with the
--   connection's cached generic plan. A plan cached while messages was
--   nearly empty keeps scanning it whole once it has grown (statistics
--   change only at the next analyze): a decision arriving in the batch
--   after its posting (a quarter to two thirds of the messages in the
--   benchmark's group chat) updated its row by a sequential scan, and
--   AdvanceLastMessage's join took milliseconds per batch.
SELECT set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true);

-- name: StageMessages :copyfrom
INSERT INTO message_staging (app, id, conversation_id, client_msg_id, sender_id, sender_type, content, content_type,
                             attachment_id, reply_to, created_at, seq, moderation_status, moderation_reason, moderated_seq,
                      moderated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);

-- name: MergeStagedMessages :exec
-- Same rule as InsertMessages, for every staged row at once.
INSERT INTO messages SELECT * FROM message_staging
ON CONFLICT (app, id) DO UPDATE
SET moderation_status = excluded.moderation_status, moderation_reason = excluded.moderation_reason,
    moderated_seq = excluded.moderated_seq, moderated_at = excluded.moderated_at
WHERE messages.moderated_seq IS NULL AND excluded.moderated_seq IS NOT NULL;

-- name: ClearStagedMessages :exec
-- TRUNCATE, not DELETE: the staging table never accumulates dead rows.
TRUNCATE message_staging;

-- name: MessageKeys :many
SELECT app, id FROM messages;

-- name: EditMessage :batchexec
-- A deleted message stays a tombstone: an edit after it changes nothing.
-- The content as posted is kept once (sync's message.new carries it).
UPDATE messages SET original_content = coalesce(original_content, content), content = $3, edited_at = $4
WHERE app = $1 AND id = $2 AND deleted_at IS NULL;

-- name: DeleteMessage :batchexec
UPDATE messages SET content = '', original_content = NULL, edited_at = NULL, deleted_at = $3
WHERE app = $1 AND id = $2 AND deleted_at IS NULL;

-- name: InsertReceipt :batchexec
-- A receipt repeated (a replay of a batch) keeps the first row.
INSERT INTO receipts (app, conversation_id, user_id, kind, seq, at, event_seq, message_id, audience)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING;

-- name: AdvanceRead :batchexec
-- Positions only move forward, whatever order receipts are applied in. A
-- receipt moves only a row that existed at its own position (@event_seq):
-- applied after the batch's joins, it must not reach the row of a rejoin
-- that came after it, whatever the batch's size.
UPDATE participants SET last_read_seq = @seq, last_read_message_id = @message_id, last_read_at = @at
WHERE app = @app AND conversation_id = @conversation_id AND user_id = @user_id AND last_read_seq < @seq
  AND joined_seq < @event_seq;

-- name: AdvanceDelivered :batchexec
UPDATE participants SET last_delivered_seq = @seq, last_delivered_message_id = @message_id, last_delivered_at = @at
WHERE app = @app AND conversation_id = @conversation_id AND user_id = @user_id AND last_delivered_seq < @seq
  AND joined_seq < @event_seq;

-- name: InsertMemberships :exec
-- A batch's new memberships in one statement, as UpsertParticipants; a
-- to_seq of 0 is a membership still open (no event has position 0). A
-- membership repeated keeps the first row.
INSERT INTO memberships (app, conversation_id, user_id, from_seq, to_seq, role)
SELECT unnest(@app::text[]), unnest(@conversation_id::text[]), unnest(@user_id::text[]), unnest(@from_seq::bigint[]),
       nullif(unnest(@to_seq::bigint[]), 0), unnest(@role::text[])
ON CONFLICT DO NOTHING;

-- name: CloseMembership :batchexec
-- The membership open before the batch ends at to_seq.
UPDATE memberships SET to_seq = @to_seq
WHERE app = @app AND conversation_id = @conversation_id AND user_id = @user_id AND to_seq IS NULL;

-- name: SetMembershipRole :batchexec
UPDATE memberships SET role = @role
WHERE app = @app AND conversation_id = @conversation_id AND user_id = @user_id AND to_seq IS NULL;

-- name: InsertFeed :batchexec
INSERT INTO conversation_feed (app, seq, conversation_id, type, at, message_id, data, audience)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING;

-- name: ScrubEdits :batchexec
-- A deleted message's edits lose their content too: a tombstone everywhere.
-- Only those before the deletion, whatever the batches (the log holds no
-- edit after a deletion: services/decide refuses it).
UPDATE conversation_feed SET data = jsonb_set(data::jsonb, '{content}', '""')::json
WHERE app = @app AND conversation_id = @conversation_id AND message_id = @message_id AND type = 'message.edited'
  AND seq < @deleted_seq;

-- name: OpenMemberships :many
-- The roster at the projector's position: every conversation with its
-- current members (none: a NULL user).
SELECT c.app, c.id, c.kind, c.reply_permission, c.created_by, c.title, c.settings, c.pinned, c.created_at,
       c.closed_at, m.user_id, m.role
FROM conversations c
LEFT JOIN memberships m ON m.app = c.app AND m.conversation_id = c.id AND m.to_seq IS NULL;
