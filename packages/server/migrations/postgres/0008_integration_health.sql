-- Up Migration
-- The console shows the last hour's pushes by provider: found by time, not by a scan.
CREATE INDEX push_sends_queued_at ON push_sends (queued_at);

-- Down Migration
DROP INDEX push_sends_queued_at;
