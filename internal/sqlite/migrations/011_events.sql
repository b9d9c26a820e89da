-- qun schema, version 11: the event outbox and its delivery journal.
-- An event is written in the transaction of the change it tells of. Due
-- events are found by the partial indexes: webhook events (any node
-- delivers them) by due time, connection events by app (the node holding
-- the app's connection claims them). The journal is read by chat or app.

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    app_id   INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    chat_id  TEXT NOT NULL,
    conn     INTEGER NOT NULL,
    status   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    due_at   INTEGER,
    data     TEXT NOT NULL
);
CREATE INDEX events_push_due ON events (due_at) WHERE due_at IS NOT NULL AND conn = 0;
CREATE INDEX events_conn_due ON events (app_id, due_at) WHERE due_at IS NOT NULL AND conn = 1;
CREATE INDEX events_chat ON events (chat_id, id);
CREATE INDEX events_app ON events (app_id, id);
CREATE INDEX events_status ON events (status, id);
-- Housekeeping deletes what is no longer due, oldest first.
CREATE INDEX events_done ON events (created_at) WHERE due_at IS NULL;

CREATE TABLE attempts (
    id    INTEGER PRIMARY KEY,
    event INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    data  TEXT NOT NULL
);
CREATE INDEX attempts_event ON attempts (event, id);
