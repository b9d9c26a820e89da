-- qun schema, version 8: a chat's tenant and a member's user or app are
-- plain columns too (as migration 7 made a chat's creator and owners).
-- Each foreign key ran a check per create and per member, taking a share
-- lock on the one tenant, user or app row that all of its concurrent
-- creates share (a multixact per lock, a WAL record per check): a profile
-- of 32 clients creating chats put an eighth of PostgreSQL's time in them.
-- What they guarded the core already holds: the rows it writes name users
-- and apps it read at the directory version the update is held to
-- (Tx.ExpectMeta), tenants and users are only ever deleted by Reset, with
-- everything else, and DeleteApp now deletes the app's memberships in the
-- statement that deletes it, as the cascade did.

ALTER TABLE chats DROP CONSTRAINT chats_tenant_id_fkey;
ALTER TABLE members DROP CONSTRAINT members_user_id_fkey;
ALTER TABLE members DROP CONSTRAINT members_app_id_fkey;
