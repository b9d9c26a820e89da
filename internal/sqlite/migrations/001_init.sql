-- qun schema, version 1: directory, tokens, chats, members, dedupe.
-- Columns that rules query are columns; the rest of each entity is a JSON
-- document ("data") owned by the domain core.

CREATE TABLE tenants (
    id       INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    key      TEXT NOT NULL,
    data     TEXT NOT NULL,
    UNIQUE (platform, key)
);

CREATE TABLE apps (
    id        INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    platform  TEXT NOT NULL,
    key       TEXT NOT NULL,
    data      TEXT NOT NULL,
    UNIQUE (tenant_id, key)
);
-- Feishu app_ids and DingTalk appKeys are unique per platform; WeCom
-- agentids only per corporation.
CREATE UNIQUE INDEX apps_platform_key ON apps (platform, key) WHERE platform <> 'wecom';

CREATE TABLE users (
    id        INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    data      TEXT NOT NULL,
    UNIQUE (tenant_id, user_id)
);

CREATE TABLE aliases (
    kind    TEXT NOT NULL,
    scope   TEXT NOT NULL,
    value   TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, scope, value),
    UNIQUE (kind, scope, user_id)
);
CREATE INDEX aliases_value ON aliases (kind, value);
CREATE INDEX aliases_user ON aliases (user_id);

CREATE TABLE friendships (
    a INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    b INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE INDEX friendships_b ON friendships (b);

CREATE TABLE tokens (
    token      TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    platform   TEXT NOT NULL,
    app_key    TEXT NOT NULL,
    tenant_key TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_app ON tokens (platform, kind, app_key, tenant_key, expires_at);

CREATE TABLE chats (
    id         INTEGER PRIMARY KEY,
    chat_id    TEXT NOT NULL UNIQUE,
    platform   TEXT NOT NULL,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    creator_app INTEGER REFERENCES apps (id) ON DELETE SET NULL,
    owner_user INTEGER REFERENCES users (id) ON DELETE SET NULL,
    owner_app  INTEGER REFERENCES apps (id) ON DELETE SET NULL,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX chats_tenant ON chats (tenant_id, id);

CREATE TABLE members (
    seq       INTEGER PRIMARY KEY,
    chat_id   INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id   INTEGER REFERENCES users (id) ON DELETE CASCADE,
    app_id    INTEGER REFERENCES apps (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (app_id IS NULL))
);
CREATE UNIQUE INDEX members_user ON members (chat_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX members_app ON members (chat_id, app_id) WHERE app_id IS NOT NULL;
CREATE INDEX members_of_user ON members (user_id, chat_id) WHERE user_id IS NOT NULL;
CREATE INDEX members_of_app ON members (app_id, chat_id) WHERE app_id IS NOT NULL;

CREATE TABLE dedupe (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
