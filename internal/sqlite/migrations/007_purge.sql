-- qun schema, version 7: housekeeping deletes expired dedupe claims and
-- tokens in small batches, oldest first, without scanning.

CREATE INDEX dedupe_created ON dedupe (created_at);
CREATE INDEX tokens_expires ON tokens (expires_at);
