-- qun schema, version 14: webhook events by app. A delivery poll leaves
-- out the apps whose receivers already have their share of attempts under
-- way. Read in due order alone (events_push_due), every due event of such
-- an app was stepped over on every poll, so a poll cost what that app's
-- backlog held. The poll now finds the apps with pending webhook events,
-- one index seek each, and reads each other app's first due events by
-- this index. events_push_due goes: with it in place, PostgreSQL's planner
-- took it for an app's events and filtered by app, the very cost this
-- removes.

DROP INDEX events_push_due;
CREATE INDEX events_push_app ON events (app_id, due_at) WHERE due_at IS NOT NULL AND conn = 0;
