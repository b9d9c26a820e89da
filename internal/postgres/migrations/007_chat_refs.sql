-- qun schema, version 7: a chat's creator, owner app and owner user are
-- plain columns. Their foreign keys made every create run a check per
-- reference, each taking a share lock on the app's or user's row, which
-- all of an app's concurrent creates share (a multixact per lock, a WAL
-- record per check), for an ON DELETE SET NULL that only DeleteApp can
-- fire (users go only with their tenant, and their chats with it):
-- DeleteApp now clears the app from the chats itself, in the statement
-- that deletes it, with the one scan the foreign key's action made.

ALTER TABLE chats DROP CONSTRAINT chats_creator_app_fkey;
ALTER TABLE chats DROP CONSTRAINT chats_owner_app_fkey;
ALTER TABLE chats DROP CONSTRAINT chats_owner_user_fkey;
