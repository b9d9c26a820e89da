-- qun schema, version 6: webhook events by app (see the SQLite store's
-- migration 14, which this mirrors): a delivery poll reads each app's
-- first due webhook events, leaving the busy apps out without stepping
-- over their backlogs. events_push_due goes, so that the planner cannot
-- read an app's events in due order across every app and filter them.

DROP INDEX events_push_due;
CREATE INDEX events_push_app ON events (app_id, due_at) WHERE due_at IS NOT NULL AND NOT conn;
