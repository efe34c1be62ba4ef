-- Announcements (issue 11): the directory of each application's users, the
-- announcements and their recorded audiences. Every row derives from the
-- log: DirectoryUsersUpdated and AnnouncementTargeted.

-- The host application's users as its service last wrote them (GET
-- /audience-targets lists their entities and roles).
CREATE TABLE directory_users (
    app         text    NOT NULL,
    user_id     text    NOT NULL,
    entity      text    NOT NULL, -- '' for a user of no entity
    role        text    NOT NULL,
    name        text    NOT NULL DEFAULT '',
    active      boolean NOT NULL,
    updated_seq bigint  NOT NULL,
    PRIMARY KEY (app, user_id)
);

-- One row per announcement, from its first AnnouncementTargeted part. Its
-- conversation has the same id; its message is a row of messages.
CREATE TABLE announcements (
    app              text        NOT NULL,
    id               text        NOT NULL,
    conversation_id  text        NOT NULL,
    message_id       text        NOT NULL,
    author_id        text        NOT NULL,
    title            text        NOT NULL,
    content          text        NOT NULL,
    attachment_id    text,
    reply_permission text        NOT NULL,
    pinned           boolean     NOT NULL,
    expires_at       timestamptz,
    targets          jsonb       NOT NULL,
    directory_seq    bigint      NOT NULL, -- the directory's position the audience was resolved at
    recipients       integer     NOT NULL, -- every part's recipients
    created_at       timestamptz NOT NULL,
    seq              bigint      NOT NULL, -- the first part's position
    PRIMARY KEY (app, id)
);
CREATE INDEX announcements_by_author ON announcements (app, author_id);

-- The audience as recorded, one row per recipient, with its part's position.
CREATE TABLE announcement_recipients (
    app             text   NOT NULL,
    announcement_id text   NOT NULL,
    user_id         text   NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (app, announcement_id, user_id)
);
CREATE INDEX announcement_recipients_by_user ON announcement_recipients (app, user_id);
