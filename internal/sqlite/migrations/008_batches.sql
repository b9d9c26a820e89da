-- qun schema, version 8: a user's aliases in the order users are read with
-- them, so that loading users sorts nothing; users paged by tenant.

DROP INDEX aliases_user;
CREATE INDEX aliases_user ON aliases (user_id, kind, scope);

-- A tenant's users in the order the admin API pages them.
CREATE INDEX users_tenant ON users (tenant_id, id);
