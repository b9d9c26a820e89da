-- qun schema, version 9: fewer index entries per chat written. Public
-- chats are indexed by tenant only when public (most chats are not), and
-- the store-wide activity order, which no listing uses any more (a bot's
-- chats come from its membership rows, a tenant's from
-- chats_tenant_active), is dropped.

DROP INDEX chats_public;
CREATE INDEX chats_public ON chats (tenant_id, id) WHERE public = 1;
DROP INDEX chats_active;
