-- The review queue: an application's messages held for review. Few rows are
-- ever pending, so the partial index stays small and costs the bulk load of
-- a replay next to nothing.
CREATE INDEX messages_pending ON messages (app, seq) WHERE moderation_status = 'pending';
