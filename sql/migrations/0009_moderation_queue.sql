-- The review queue: an application's messages held for review. Few rows are
-- ever pending, so the partial index stays small and costs the bulk load of
-- a replay next to nothing.
CREATE INDEX messages_pending ON messages (app, seq) WHERE moderation_status = 'pending';

-- Every hold of a message (a decision pending review). The message's row
-- keeps its last decision; sync also owes the sender the moderation.result
-- of each hold a later decision replaced (those before the row's position).
CREATE TABLE held_decisions (
    app        text        NOT NULL,
    message_id text        NOT NULL,
    seq        bigint      NOT NULL,
    at         timestamptz NOT NULL,
    reason     text,
    PRIMARY KEY (app, message_id, seq)
);
