-- The read model of conversations, participants and messages. Every row is
-- derived from the event log; the projector writes it, the REST API reads it.
-- Tables are unqualified: they live in the schema named by search_path, so a
-- replay can build a fresh schema beside the live one.

CREATE TABLE conversations (
    app              text        NOT NULL,
    id               text        NOT NULL,
    kind             text        NOT NULL,
    title            text        NOT NULL DEFAULT '',
    reply_permission text        NOT NULL,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL,
    created_seq      bigint      NOT NULL,
    PRIMARY KEY (app, id)
);

CREATE TABLE participants (
    app             text        NOT NULL,
    conversation_id text        NOT NULL,
    user_id         text        NOT NULL,
    role            text        NOT NULL,
    joined_at       timestamptz NOT NULL,
    joined_seq      bigint      NOT NULL,
    last_read_seq   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (app, conversation_id, user_id)
);
CREATE INDEX participants_by_user ON participants (app, user_id);

CREATE TABLE messages (
    app               text        NOT NULL,
    id                text        NOT NULL,
    conversation_id   text        NOT NULL,
    client_msg_id     text        NOT NULL,
    sender_id         text        NOT NULL,
    sender_type       text        NOT NULL,
    content           text        NOT NULL,
    content_type      text        NOT NULL,
    attachment_id     text,
    reply_to          text,
    created_at        timestamptz NOT NULL,
    seq               bigint      NOT NULL,
    moderation_status text        NOT NULL DEFAULT 'pending',
    moderation_reason text,
    moderated_seq     bigint,
    PRIMARY KEY (app, id)
) WITH (fillfactor = 85); -- room on each page for the decision's update to stay HOT (no index writes)
CREATE UNIQUE INDEX messages_by_conversation ON messages (app, conversation_id, seq);

-- The last stream position each projector has applied, committed in the same
-- transaction as the rows it wrote.
CREATE TABLE projection_checkpoints (
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);

-- Bulk projection (replays, catching up) copies messages here, then merges
-- them into messages in the same transaction. Unlogged: its rows never
-- outlive the transaction that wrote them.
CREATE UNLOGGED TABLE message_staging (LIKE messages INCLUDING DEFAULTS);
