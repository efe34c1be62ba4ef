-- name: UpdateConversation :batchexec
-- A conversation's shared attributes after an admin's change (the event
-- carries them all). A closed conversation stays closed, since its first
-- closing.
UPDATE conversations
SET title = @title, settings = @settings, reply_permission = @reply_permission, pinned = @pinned,
    closed_at = CASE WHEN @closed::boolean THEN coalesce(closed_at, @at::timestamptz) ELSE closed_at END,
    updated_at = @at::timestamptz
WHERE app = @app AND id = @id;

-- name: UpdateParticipant :batchexec
UPDATE participants SET role = @role, can_reply = @can_reply
WHERE app = @app AND conversation_id = @conversation_id AND user_id = @user_id;

-- name: AdvanceLastMessage :exec
-- A batch's approvals, in one statement, after the decisions are written:
-- each conversation's last message moves to the newest message whose
-- standing decision (the first) is one of them. The row, not the
-- decision, says which message stood and where it was first posted, so any
-- batching of repeated postings and decisions gives the same position; it
-- only moves forward.
UPDATE conversations c SET last_message_seq = x.seq
FROM (SELECT m.app, m.conversation_id, max(m.seq) AS seq
      FROM (SELECT unnest(@app::text[]) AS app, unnest(@id::text[]) AS id,
                   unnest(@moderated_seq::bigint[]) AS moderated_seq) d
      JOIN messages m ON m.app = d.app AND m.id = d.id AND m.moderated_seq = d.moderated_seq
      WHERE m.moderation_status = 'approved'
      GROUP BY m.app, m.conversation_id) x
WHERE c.app = x.app AND c.id = x.conversation_id AND c.last_message_seq < x.seq;

-- name: AdvanceLastMessageTo :exec
-- Replays only: the last message of each conversation, among the messages
-- the batch copies with their standing approval folded in (the replay
-- knows those rows are its own, so it needs no join to find them; one
-- element per conversation). It only moves forward.
UPDATE conversations c SET last_message_seq = x.seq
FROM (SELECT unnest(@app::text[]) AS app, unnest(@id::text[]) AS id, unnest(@seq::bigint[]) AS seq) x
WHERE c.app = x.app AND c.id = x.id AND c.last_message_seq < x.seq;

-- name: FillLastMessages :exec
-- Replays only, once after the last event (see projections/indexes.go):
-- every conversation's last message, the newest message whose standing
-- decision approved it after the conversation was created, as the updates
-- of each approval in log order leave it (an approval logged before its
-- conversation's creation moves nothing: the row did not exist). One pass
-- over messages instead of an update per conversation per batch.
UPDATE conversations c SET last_message_seq = x.seq
FROM (SELECT m.app, m.conversation_id, max(m.seq) AS seq
      FROM messages m
      JOIN conversations cc ON cc.app = m.app AND cc.id = m.conversation_id AND m.moderated_seq > cc.created_seq
      WHERE m.moderation_status = 'approved'
      GROUP BY m.app, m.conversation_id) x
WHERE c.app = x.app AND c.id = x.conversation_id AND c.last_message_seq < x.seq;

-- name: ListMyConversations :many
-- GET /conversations in one statement: the caller's conversations, pinned
-- first, then by last activity (the position of the last approved message,
-- or of the creation), then id; keyset-paged after the cursor's row. Only
-- the page's rows get their last message and unread count.
WITH page AS (
    SELECT c.app, c.id, c.kind, c.title, c.reply_permission, c.created_by, c.created_at, c.created_seq,
           c.settings, c.pinned, c.closed_at, c.last_message_seq,
           greatest(c.created_seq, c.last_message_seq)::bigint AS activity_seq,
           p.role AS my_role, p.can_reply AS my_can_reply, p.last_read_seq
    FROM participants p
    JOIN conversations c ON c.app = p.app AND c.id = p.conversation_id
    WHERE p.app = @app AND p.user_id = @user_id
      AND (NOT @after::boolean
           OR c.pinned < @after_pinned::boolean
           OR c.pinned = @after_pinned::boolean AND (
                greatest(c.created_seq, c.last_message_seq) < @after_activity::bigint
                OR greatest(c.created_seq, c.last_message_seq) = @after_activity::bigint AND c.id > @after_id::text))
    ORDER BY c.pinned DESC, activity_seq DESC, c.id
    LIMIT @max_rows
)
SELECT page.app, page.id, page.kind, page.title, page.reply_permission, page.created_by, page.created_at,
       page.settings, page.pinned, page.closed_at, page.activity_seq, page.my_role, page.my_can_reply,
       (SELECT count(*) FROM messages m
         WHERE m.app = page.app AND m.conversation_id = page.id AND m.moderation_status = 'approved'
           AND m.deleted_at IS NULL AND m.sender_id <> @user_id AND m.seq > page.last_read_seq)::bigint AS unread_count,
       last.id AS last_id, last.client_msg_id AS last_client_msg_id, last.sender_id AS last_sender_id,
       last.sender_type AS last_sender_type, last.content AS last_content, last.content_type AS last_content_type,
       last.attachment_id AS last_attachment_id, last.reply_to AS last_reply_to, last.created_at AS last_created_at,
       last.edited_at AS last_edited_at, last.deleted_at AS last_deleted_at, last.seq AS last_seq
FROM page
LEFT JOIN messages last ON last.app = page.app AND last.conversation_id = page.id AND last.seq = page.last_message_seq
ORDER BY page.pinned DESC, page.activity_seq DESC, page.id;
