-- qun schema, version 4: members' codes and sessions, corporation links.

ALTER TABLE tokens ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
DROP INDEX tokens_app;
CREATE INDEX tokens_app ON tokens (platform, kind, app_key, tenant_key, user_id, expires_at);

CREATE TABLE links (
    id       INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    key      TEXT NOT NULL,
    data     TEXT NOT NULL,
    UNIQUE (platform, key)
);
