-- qun schema, version 12: messages. A chat's messages are read by time
-- (history pages, the admin listing), so they are indexed by chat and
-- creation time; public IDs are unique.

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    chat_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX messages_chat ON messages (chat_id, created_at, id);
