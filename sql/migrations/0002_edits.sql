-- Edits and deletions: a message keeps its row; an edit replaces its content
-- and sets edited_at, a deletion leaves a tombstone (content emptied,
-- deleted_at set, edited_at cleared) that no later event brings back.
ALTER TABLE messages ADD COLUMN edited_at timestamptz, ADD COLUMN deleted_at timestamptz;
-- message_staging mirrors messages column for column (merged with SELECT *).
ALTER TABLE message_staging ADD COLUMN edited_at timestamptz, ADD COLUMN deleted_at timestamptz;
