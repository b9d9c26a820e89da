-- qun schema, version 4: one index entry fewer per search posting (see the
-- SQLite store's migration 13, which this mirrors). A chat's changed
-- postings are deleted by the primary key (gram, chat_id), as
-- qun.GramChanges names them.

DROP INDEX chat_grams_chat;
