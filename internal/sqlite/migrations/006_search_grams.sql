-- qun schema, version 6: keyword search by an index of grams, and a bot's
-- chats by activity.

-- The grams (characters and pairs of characters) of each chat's search
-- text (qun.SearchGrams): a keyword is looked up by one of its grams
-- (qun.KeyGrams, the rarest) and checked on the chats posted under it. Filled for
-- existing chats when the store opens.
-- No foreign key: a chat's grams are replaced by the store when its names
-- change and chats are only deleted by a reset, which empties this table
-- too; without one, a multi-row insert needs no statement journal.
CREATE TABLE chat_grams (
    gram    TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    PRIMARY KEY (gram, chat_id)
) WITHOUT ROWID;
CREATE INDEX chat_grams_chat ON chat_grams (chat_id);

-- A copy of the chat's active_at on its bots' membership rows, so that a
-- bot's chats are read in activity order from one index.
ALTER TABLE members ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;
UPDATE members SET active_at = (SELECT active_at FROM chats WHERE chats.id = members.chat_id) WHERE app_id IS NOT NULL;
CREATE INDEX members_app_active ON members (app_id, active_at DESC, chat_id DESC) WHERE app_id IS NOT NULL;

INSERT INTO meta (key, value) VALUES ('chat_grams', 'pending') ON CONFLICT (key) DO UPDATE SET value = 'pending';
