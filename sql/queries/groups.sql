-- Groups (teams) and the user room: the projector's writes, then the reads.

-- name: InsertGroup :execrows
INSERT INTO groups (app, id, name, created_by, created_at, created_seq)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING;

-- name: RenameGroup :execrows
UPDATE groups SET name = $3 WHERE app = $1 AND id = $2;

-- name: GroupMemberRole :one
SELECT role FROM group_members WHERE app = $1 AND group_id = $2 AND user_id = $3;

-- name: UpsertGroupMember :exec
INSERT INTO group_members (app, group_id, user_id, role, joined_at, joined_seq)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (app, group_id, user_id) DO UPDATE SET role = excluded.role;

-- name: DeleteGroupMember :exec
DELETE FROM group_members WHERE app = $1 AND group_id = $2 AND user_id = $3;

-- name: OpenGroupMembership :exec
INSERT INTO group_memberships (app, group_id, user_id, from_seq) VALUES ($1, $2, $3, $4);

-- name: CloseGroupMembership :exec
UPDATE group_memberships SET to_seq = @to_seq
WHERE app = @app AND group_id = @group_id AND user_id = @user_id AND to_seq IS NULL;

-- name: InsertGroupFeed :exec
INSERT INTO group_feed (app, seq, group_id, type, at, data) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING;

-- name: InsertJoinRequest :execrows
INSERT INTO group_join_requests (app, group_id, user_id, requested_at, requested_seq)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING;

-- name: DeleteJoinRequest :execrows
DELETE FROM group_join_requests WHERE app = $1 AND group_id = $2 AND user_id = $3;

-- name: InsertGroupConversation :exec
INSERT INTO group_conversations (app, group_id, conversation_id, created_seq) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: UpsertUserSettings :exec
INSERT INTO user_settings (app, user_id, settings, seq) VALUES ($1, $2, $3, $4)
ON CONFLICT (app, user_id) DO UPDATE SET settings = excluded.settings, seq = excluded.seq;

-- name: InsertUserFeed :exec
INSERT INTO user_feed (app, user_id, seq, type, at, data) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING;

-- name: GroupAdmins :many
SELECT user_id FROM group_members WHERE app = $1 AND group_id = $2 AND role = 'admin' ORDER BY user_id;

-- name: SettingsOf :many
-- The settings of those of users who changed theirs (the others have the
-- defaults).
SELECT user_id, settings FROM user_settings WHERE app = @app AND user_id = ANY(@users::text[]);

-- name: MarkNotificationsRead :exec
INSERT INTO notification_marks (app, user_id, read_upto) VALUES ($1, $2, $3)
ON CONFLICT (app, user_id) DO UPDATE SET read_upto = greatest(notification_marks.read_upto, excluded.read_upto);

-- name: ListGroupsForUser :many
-- The caller's groups by id, after a cursor, with their role and size.
SELECT g.id, g.name, g.created_by, g.created_at, m.role,
       (SELECT count(*) FROM group_members x WHERE x.app = g.app AND x.group_id = g.id)::bigint AS member_count
FROM group_members m
JOIN groups g ON g.app = m.app AND g.id = m.group_id
WHERE m.app = @app AND m.user_id = @user_id AND m.group_id > @after
ORDER BY m.group_id
LIMIT @max_rows;

-- name: GetGroup :one
SELECT * FROM groups WHERE app = $1 AND id = $2;

-- name: ListGroupMembers :many
SELECT user_id, role, joined_at FROM group_members WHERE app = $1 AND group_id = $2 ORDER BY joined_seq, user_id;

-- name: ListGroupConversations :many
-- A group's conversations, newest first, and whether the viewer is in each.
SELECT c.id, c.kind, c.title, c.created_by, c.created_at,
       EXISTS (SELECT 1 FROM participants p
               WHERE p.app = c.app AND p.conversation_id = c.id AND p.user_id = @viewer) AS joined
FROM group_conversations gc
JOIN conversations c ON c.app = gc.app AND c.id = gc.conversation_id
WHERE gc.app = @app AND gc.group_id = @group_id
ORDER BY gc.created_seq DESC
LIMIT @max_rows;

-- name: ListJoinRequests :many
SELECT user_id, requested_at FROM group_join_requests
WHERE app = @app AND group_id = @group_id AND user_id > @after
ORDER BY user_id
LIMIT @max_rows;

-- name: GetUserSettings :one
SELECT settings, seq FROM user_settings WHERE app = $1 AND user_id = $2;

-- name: SyncGroupFeed :many
-- A user's group deliveries after since, while a member of each group.
SELECT f.seq, f.type, f.at, f.data
FROM group_memberships ms
CROSS JOIN LATERAL (
    SELECT * FROM group_feed x
    WHERE x.app = ms.app AND x.group_id = ms.group_id
      AND x.seq > greatest(@since::bigint, ms.from_seq - 1)
      AND x.seq <= coalesce(ms.to_seq, 9223372036854775807)
    ORDER BY x.seq
    LIMIT @max_rows
) f
WHERE ms.app = @app AND ms.user_id = @user_id AND (ms.to_seq IS NULL OR ms.to_seq > @since::bigint)
ORDER BY f.seq
LIMIT @max_rows;

-- name: SyncUserFeed :many
SELECT seq, type, at, data FROM user_feed
WHERE app = @app AND user_id = @user_id AND seq > @since::bigint
ORDER BY seq
LIMIT @max_rows;

-- name: ListNotifications :many
-- A user's notification records, newest first, before a position, with
-- whether each is read.
SELECT f.seq, f.at, f.data,
       (f.seq <= coalesce((SELECT m.read_upto FROM notification_marks m
                           WHERE m.app = f.app AND m.user_id = f.user_id), 0))::boolean AS read
FROM user_feed f
WHERE f.app = @app AND f.user_id = @user_id AND f.type = 'notification.new' AND f.seq < @before::bigint
ORDER BY f.seq DESC
LIMIT @max_rows;

-- name: UnreadConversations :many
-- The user's conversations with approved messages from others they have
-- not read, newest first: the message notifications, derived when asked.
SELECT p.conversation_id, count(*)::bigint AS unread, max(m.seq)::bigint AS last_seq
FROM participants p
JOIN messages m ON m.app = p.app AND m.conversation_id = p.conversation_id
WHERE p.app = @app AND p.user_id = @user_id
  AND m.moderation_status = 'approved' AND m.deleted_at IS NULL AND m.sender_id <> p.user_id AND m.seq > p.last_read_seq
  AND NOT (p.conversation_id = ANY(@muted::text[]))
GROUP BY p.conversation_id
ORDER BY last_seq DESC
LIMIT @max_rows;

-- name: AddNotifications :exec
-- A batch's conversation notification records in one statement, one array
-- per column as UpsertParticipants (a statement per row cost a replay more
-- than the rows: a new conversation notifies each of its members).
INSERT INTO user_feed (app, user_id, seq, type, at, data)
SELECT unnest(@app::text[]), unnest(@user_id::text[]), unnest(@seq::bigint[]), 'notification.new',
       unnest(@at::timestamptz[]), unnest(@data::json[])
ON CONFLICT DO NOTHING;
