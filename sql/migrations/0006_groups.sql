-- Groups (teams) and the user room. Every row is derived from the log:
-- group events (chat.evt.{app}.group.{id}.…) and a user's settings changes.

CREATE TABLE groups (
    app         text        NOT NULL,
    id          text        NOT NULL,
    name        text        NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    created_seq bigint      NOT NULL,
    PRIMARY KEY (app, id)
);

-- The members of today.
CREATE TABLE group_members (
    app        text        NOT NULL,
    group_id   text        NOT NULL,
    user_id    text        NOT NULL,
    role       text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    joined_seq bigint      NOT NULL,
    PRIMARY KEY (app, group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (app, user_id);

-- Pending join requests: gone once accepted (the user joins) or refused.
CREATE TABLE group_join_requests (
    app           text        NOT NULL,
    group_id      text        NOT NULL,
    user_id       text        NOT NULL,
    requested_at  timestamptz NOT NULL,
    requested_seq bigint      NOT NULL,
    PRIMARY KEY (app, group_id, user_id)
);

-- The conversations created in a group (ConversationCreated's groupId).
CREATE TABLE group_conversations (
    app             text   NOT NULL,
    group_id        text   NOT NULL,
    conversation_id text   NOT NULL,
    created_seq     bigint NOT NULL,
    PRIMARY KEY (app, group_id, conversation_id)
);

-- For GET /sync, as memberships and conversation_feed for conversations:
-- each user's group membership intervals, join to leave inclusive (the
-- joiner gets their group.member_joined, the leaver their
-- group.member_left), and every group.* delivery with its data as sent.
CREATE TABLE group_memberships (
    app      text   NOT NULL,
    group_id text   NOT NULL,
    user_id  text   NOT NULL,
    from_seq bigint NOT NULL,
    to_seq   bigint,
    PRIMARY KEY (app, group_id, user_id, from_seq)
);
CREATE INDEX group_memberships_by_user ON group_memberships (app, user_id);

CREATE TABLE group_feed (
    app      text        NOT NULL,
    seq      bigint      NOT NULL,
    group_id text        NOT NULL,
    type     text        NOT NULL,
    at       timestamptz NOT NULL,
    data     json        NOT NULL,
    PRIMARY KEY (app, seq)
);
CREATE INDEX group_feed_by_group ON group_feed (app, group_id, seq);

-- A user's settings as their last change left them.
CREATE TABLE user_settings (
    app      text   NOT NULL,
    user_id  text   NOT NULL,
    settings json   NOT NULL,
    seq      bigint NOT NULL,
    PRIMARY KEY (app, user_id)
);

-- Deliveries to one user's own topics (settings.changed), for GET /sync.
CREATE TABLE user_feed (
    app     text        NOT NULL,
    user_id text        NOT NULL,
    seq     bigint      NOT NULL,
    type    text        NOT NULL,
    at      timestamptz NOT NULL,
    data    json        NOT NULL,
    PRIMARY KEY (app, user_id, seq)
);

-- Each user's read mark: notification records at or before read_upto are
-- read. The records themselves are user_feed rows of type notification.new.
CREATE TABLE notification_marks (
    app       text   NOT NULL,
    user_id   text   NOT NULL,
    read_upto bigint NOT NULL,
    PRIMARY KEY (app, user_id)
);
CREATE INDEX user_feed_notifications ON user_feed (app, user_id, seq) WHERE type = 'notification.new';
