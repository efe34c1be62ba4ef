-- Sync (GET /sync): every delivery a user would have received over MQTT after
-- a position, rebuilt from the read model. Messages give message.new and
-- moderation.result (at their decision's position); conversation_feed holds
-- the rarer deliveries of a conversation (conversation.created,
-- member.joined, member.left, message.edited, message.deleted) with their
-- data as delivered; receipts give read.receipt and delivery.receipt;
-- memberships says who was a member at each position.

-- The decision's time (the envelope's at of message.new and
-- moderation.result), and the content as posted once an edit replaced it (a
-- deletion clears both: a tombstone everywhere).
ALTER TABLE messages ADD COLUMN moderated_at timestamptz, ADD COLUMN original_content text;
ALTER TABLE message_staging ADD COLUMN moderated_at timestamptz, ADD COLUMN original_content text;
CREATE INDEX messages_by_decision ON messages (app, conversation_id, moderated_seq);
CREATE INDEX messages_by_sender_decision ON messages (app, sender_id, moderated_seq);

-- One row per membership: from the position of the join (or the creation)
-- to that of the leave, both included, as fan-out routes (a joiner gets its
-- own member.joined, a leaver its own member.left). to_seq is NULL while the
-- user is a member. A role change keeps the row.
CREATE TABLE memberships (
    app             text   NOT NULL,
    conversation_id text   NOT NULL,
    user_id         text   NOT NULL,
    from_seq        bigint NOT NULL,
    to_seq          bigint,
    role            text   NOT NULL,
    PRIMARY KEY (app, conversation_id, user_id, from_seq)
);
CREATE INDEX memberships_by_user ON memberships (app, user_id);

-- A conversation's deliveries other than messages and receipts, one row
-- each, with data as delivered. audience is NULL when every member at seq
-- receives it, else the users fan-out's rule picked (services/roster).
CREATE TABLE conversation_feed (
    app             text        NOT NULL,
    seq             bigint      NOT NULL,
    conversation_id text        NOT NULL,
    type            text        NOT NULL,
    at              timestamptz NOT NULL,
    message_id      text,
    data            json        NOT NULL,
    audience        text[],
    PRIMARY KEY (app, seq)
);
CREATE INDEX conversation_feed_by_conversation ON conversation_feed (app, conversation_id, seq);

-- A receipt's delivery: its own position, the message named, and the
-- audience as above.
ALTER TABLE receipts
    ADD COLUMN event_seq  bigint,
    ADD COLUMN message_id text,
    ADD COLUMN audience   text[];
CREATE INDEX receipts_by_event ON receipts (app, conversation_id, event_seq);

-- Sync answers from position horizon on: before it, the tables above are
-- incomplete (this migration added them to a read model already projected
-- up to its checkpoint). A replay builds them from the start: 0.
CREATE TABLE sync_horizon (
    horizon bigint NOT NULL
);
INSERT INTO sync_horizon (horizon)
SELECT coalesce((SELECT position FROM projection_checkpoints WHERE name = 'projector-postgres'), 0);

-- The memberships of a read model projected before this migration: the
-- participants of today, from their join on.
INSERT INTO memberships (app, conversation_id, user_id, from_seq, role)
SELECT p.app, p.conversation_id, p.user_id, p.joined_seq, p.role
FROM participants p JOIN conversations c ON c.app = p.app AND c.id = p.conversation_id;
