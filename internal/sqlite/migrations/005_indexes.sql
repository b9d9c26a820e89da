-- qun schema, version 5: indexes so that no read path grows with the store
-- (TestQueryPlans checks the plan of every query).

-- Members by chat in join order: counts, pages by seq, and the cascade
-- when a chat goes. (The partial unique indexes cannot serve these.)
CREATE INDEX members_chat ON members (chat_id, seq);

-- The foreign keys of chats, for deleting an app or a user without
-- scanning every chat.
CREATE INDEX chats_creator_app ON chats (creator_app);
CREATE INDEX chats_owner_app ON chats (owner_app);
CREATE INDEX chats_owner_user ON chats (owner_user);

-- A tenant's chats by activity (Feishu's list by ByActiveTimeDesc) and the
-- public-name check of chats of one tenant.
CREATE INDEX chats_tenant_active ON chats (tenant_id, active_at DESC, id DESC);
CREATE INDEX chats_name ON chats (name, id);
