-- qun schema, version 13: one index entry fewer per search posting. A
-- chat's postings were deleted by chat_grams_chat when its names changed;
-- the store now deletes the grams the old text had and the new one lacks
-- (qun.GramChanges) by the primary key, so no query reads that index and
-- every create stopped paying an entry in it for each of its grams.

DROP INDEX chat_grams_chat;
