-- Conversation administration (issue 10): what admins change on a
-- conversation (title, settings, pin, reply permission, closing) and on a
-- participant (role, reply override), and the position of a conversation's
-- last approved message, by which GET /conversations orders.

-- pinned is per conversation (the seed's Conversation.is_pinned); closed_at
-- is the time of the event that closed it (NULL: open); updated_at that of
-- the last change; settings the admins' client preferences.
ALTER TABLE conversations
    ADD COLUMN settings         jsonb       NOT NULL DEFAULT '{}',
    ADD COLUMN pinned           boolean     NOT NULL DEFAULT false,
    ADD COLUMN closed_at        timestamptz,
    ADD COLUMN updated_at       timestamptz,
    ADD COLUMN last_message_seq bigint      NOT NULL DEFAULT 0;

-- The override of the reply permission for one participant: true or false
-- wins over role and permission, NULL leaves them to decide.
ALTER TABLE participants ADD COLUMN can_reply boolean;

-- The conversations of a read model projected before this migration get
-- their last approved message from the messages they hold.
UPDATE conversations c SET last_message_seq = m.seq
FROM (SELECT app, conversation_id, max(seq) AS seq FROM messages
      WHERE moderation_status = 'approved' GROUP BY app, conversation_id) m
WHERE m.app = c.app AND m.conversation_id = c.id;
