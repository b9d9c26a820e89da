-- qun schema, version 8: a user's aliases in the order users are read with
-- them, so that loading users sorts nothing.

DROP INDEX aliases_user;
CREATE INDEX aliases_user ON aliases (user_id, kind, scope);
