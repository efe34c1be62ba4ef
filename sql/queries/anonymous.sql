-- name: ConvertVisitor :exec
-- A visitor becomes a known client at position seq: everything the read
-- model holds about the visitor in the conversation, up to that position,
-- becomes the client's (PROTOCOL §3: history is shown as the client's in
-- every read, sync included), the user room's records with it. Delivered data in conversation_feed names the
-- visitor as a JSON string; ids hold no quote or backslash, so replacing
-- the quoted id cannot touch anything else. The visitor is the only
-- anonymous sender of its conversation: every "senderType":"anonymous"
-- there is its own.
WITH msgs AS (
    UPDATE messages SET sender_id = @user_id::text, sender_type = 'user'
    WHERE messages.app = @app::text AND messages.conversation_id = @conversation_id::text
      AND messages.sender_id = @anonymous_id::text AND messages.seq < @seq::bigint
), parts AS (
    UPDATE participants SET user_id = @user_id::text
    WHERE participants.app = @app::text AND participants.conversation_id = @conversation_id::text
      AND participants.user_id = @anonymous_id::text
), members AS (
    UPDATE memberships SET user_id = @user_id::text
    WHERE memberships.app = @app::text AND memberships.conversation_id = @conversation_id::text
      AND memberships.user_id = @anonymous_id::text
), rcpts AS (
    UPDATE receipts
    SET user_id = CASE WHEN receipts.user_id = @anonymous_id::text THEN @user_id::text ELSE receipts.user_id END,
        audience = array_replace(receipts.audience, @anonymous_id::text, @user_id::text)
    WHERE receipts.app = @app::text AND receipts.conversation_id = @conversation_id::text
      AND (receipts.user_id = @anonymous_id::text OR @anonymous_id::text = ANY (receipts.audience))
), feed AS (
    UPDATE conversation_feed
    SET data = replace(replace(conversation_feed.data::text, '"' || @anonymous_id::text || '"', '"' || @user_id::text || '"'),
                       '"senderType":"anonymous"', '"senderType":"user"')::json,
        audience = array_replace(conversation_feed.audience, @anonymous_id::text, @user_id::text)
    WHERE conversation_feed.app = @app::text AND conversation_feed.conversation_id = @conversation_id::text
      AND conversation_feed.seq < @seq::bigint
), notes AS (
    -- The user room's records: the visitor's become the client's, and those
    -- about the conversation name the client where they named the visitor.
    UPDATE user_feed
    SET data = CASE WHEN user_feed.data->>'conversationId' = @conversation_id::text
                    THEN replace(user_feed.data::text, '"' || @anonymous_id::text || '"', '"' || @user_id::text || '"')::json
                    ELSE user_feed.data END,
        user_id = CASE WHEN user_feed.user_id = @anonymous_id::text THEN @user_id::text ELSE user_feed.user_id END
    WHERE user_feed.app = @app::text AND user_feed.seq < @seq::bigint
      AND (user_feed.user_id = @anonymous_id::text OR user_feed.data->>'conversationId' = @conversation_id::text)
)
UPDATE conversations SET created_by = @user_id::text
WHERE conversations.app = @app::text AND conversations.id = @conversation_id::text
  AND conversations.created_by = @anonymous_id::text;
