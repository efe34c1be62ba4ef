-- A conversation's row is updated at every batch that approves one of its
-- messages (last_message_seq, not indexed): room on each page keeps those
-- updates HOT, without a new primary key entry each time. About three times
-- cheaper for a replay, whose batches move thousands of conversations. The
-- table is small (a row per conversation); pages written before keep theirs.
ALTER TABLE conversations SET (fillfactor = 50);
