-- Receipts: each participant's read and delivered positions (the log
-- position of the last message they read, or received, with its id and the
-- receipt's time), only ever moving forward; unread counts are the approved
-- messages of others after last_read_seq. receipts keeps every receipt that
-- moved a position, so "who has read message M, and since when" is exact:
-- the first receipt at or past M's position.
ALTER TABLE participants
    ADD COLUMN last_read_message_id      text,
    ADD COLUMN last_read_at              timestamptz,
    ADD COLUMN last_delivered_seq        bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_delivered_message_id text,
    ADD COLUMN last_delivered_at         timestamptz;

CREATE TABLE receipts (
    app             text        NOT NULL,
    conversation_id text        NOT NULL,
    user_id         text        NOT NULL,
    kind            text        NOT NULL, -- read | delivered
    seq             bigint      NOT NULL, -- the position of the message received or read
    at              timestamptz NOT NULL,
    PRIMARY KEY (app, conversation_id, user_id, kind, seq)
);
CREATE INDEX receipts_by_position ON receipts (app, conversation_id, seq);
