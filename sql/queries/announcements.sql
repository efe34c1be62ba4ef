-- name: UpsertDirectoryUsers :exec
-- Each user once per statement (the projector keeps a batch's last entry);
-- an older position never overwrites a newer one.
INSERT INTO directory_users (app, user_id, entity, role, name, active, updated_seq)
SELECT unnest(@app::text[]), unnest(@user_id::text[]), unnest(@entity::text[]), unnest(@role::text[]),
       unnest(@name::text[]), unnest(@active::boolean[]), unnest(@updated_seq::bigint[])
ON CONFLICT (app, user_id) DO UPDATE
SET entity = excluded.entity, role = excluded.role, name = excluded.name, active = excluded.active,
    updated_seq = excluded.updated_seq
WHERE directory_users.updated_seq < excluded.updated_seq;

-- name: InsertAnnouncement :batchexec
INSERT INTO announcements (app, id, conversation_id, message_id, author_id, title, content, attachment_id,
                           reply_permission, pinned, expires_at, targets, directory_seq, recipients, created_at, seq)
VALUES (@app, @id, @conversation_id, @message_id, @author_id, @title, @content, @attachment_id,
        @reply_permission, @pinned, @expires_at, @targets, @directory_seq, @recipients, @created_at, @seq)
ON CONFLICT (app, id) DO NOTHING;

-- name: InsertAnnouncementRecipients :exec
INSERT INTO announcement_recipients (app, announcement_id, user_id, seq)
SELECT unnest(@app::text[]), unnest(@announcement_id::text[]), unnest(@user_id::text[]), unnest(@seq::bigint[])
ON CONFLICT (app, announcement_id, user_id) DO NOTHING;

-- name: ListAnnouncementsForUser :many
-- The announcements a user received or wrote and that have not expired,
-- pinned first, then newest first; paged on (pinned, seq).
SELECT a.id, a.conversation_id, a.message_id, a.author_id, a.title, a.content, a.attachment_id,
       a.reply_permission, a.pinned, a.expires_at, a.targets, a.recipients, a.created_at, a.seq
FROM announcements a
WHERE a.app = @app
  AND (a.author_id = @user_id::text OR EXISTS (
        SELECT 1 FROM announcement_recipients r
        WHERE r.app = a.app AND r.announcement_id = a.id AND r.user_id = @user_id::text))
  AND (a.expires_at IS NULL OR a.expires_at > @now::timestamptz)
  AND (a.pinned::int, a.seq) < (@before_pinned::int, @before_seq::bigint)
ORDER BY a.pinned DESC, a.seq DESC
LIMIT @max_rows;

-- name: GetAnnouncement :one
SELECT a.id, a.conversation_id, a.message_id, a.author_id, a.title, a.content, a.attachment_id,
       a.reply_permission, a.pinned, a.expires_at, a.targets, a.recipients, a.created_at, a.seq
FROM announcements a
WHERE a.app = @app AND a.id = @id;

-- name: AnnouncementReadCounts :one
-- Recipients, and those who have read the announcement's message: a read
-- receipt at or past its position (receipts are positions).
WITH an AS (
    SELECT a.app, a.id, a.conversation_id, m.seq AS message_seq
    FROM announcements a JOIN messages m ON m.app = a.app AND m.id = a.message_id
    WHERE a.app = @app AND a.id = @id
), readers AS (
    SELECT DISTINCT r.user_id
    FROM receipts r JOIN an ON r.app = an.app AND r.conversation_id = an.conversation_id
    WHERE r.kind = 'read' AND r.seq >= an.message_seq
)
SELECT count(*)::bigint AS recipients, count(readers.user_id)::bigint AS read
FROM announcement_recipients ar
JOIN an ON ar.app = an.app AND ar.announcement_id = an.id
LEFT JOIN readers ON readers.user_id = ar.user_id;

-- name: AnnouncementReadPage :many
-- Recipients after a user id, in id order, each with the time of their
-- first read receipt covering the message (NULL: unread).
WITH an AS (
    SELECT a.app, a.id, a.conversation_id, m.seq AS message_seq
    FROM announcements a JOIN messages m ON m.app = a.app AND m.id = a.message_id
    WHERE a.app = @app AND a.id = @id
), readers AS (
    SELECT r.user_id, min(r.at)::timestamptz AS read_at
    FROM receipts r JOIN an ON r.app = an.app AND r.conversation_id = an.conversation_id
    WHERE r.kind = 'read' AND r.seq >= an.message_seq
    GROUP BY r.user_id
)
SELECT ar.user_id, readers.read_at
FROM announcement_recipients ar
JOIN an ON ar.app = an.app AND ar.announcement_id = an.id
LEFT JOIN readers ON readers.user_id = ar.user_id
WHERE ar.user_id > @after::text
ORDER BY ar.user_id
LIMIT @max_rows;

-- name: DirectoryEntities :many
SELECT DISTINCT entity FROM directory_users WHERE app = @app AND entity <> '' ORDER BY entity;

-- name: DirectoryRoles :many
-- The roles of the directory's users, of one entity unless entity is ''.
SELECT DISTINCT role FROM directory_users
WHERE app = @app AND (@entity::text = '' OR entity = @entity::text)
ORDER BY role;

-- name: AnnouncementRecipientIDs :many
-- The recorded audience of the announcement whose conversation is id.
SELECT user_id FROM announcement_recipients WHERE app = @app AND announcement_id = @id;
