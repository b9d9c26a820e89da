-- qun schema, version 3: a chat's second public identifier (DingTalk
-- openConversationId).

ALTER TABLE chats ADD COLUMN conversation_id TEXT;
CREATE UNIQUE INDEX chats_conversation_id ON chats (conversation_id) WHERE conversation_id IS NOT NULL;
