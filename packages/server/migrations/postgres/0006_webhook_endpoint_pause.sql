-- Up Migration
-- A failing endpoint is paused: its queue waits instead of costing an attempt per delivery.
ALTER TABLE webhook_endpoints ADD COLUMN paused_until bigint NOT NULL DEFAULT 0;
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_attempt_at)
  WHERE status = 'pending';

-- Down Migration
DROP INDEX webhook_deliveries_endpoint_due;
ALTER TABLE webhook_endpoints DROP COLUMN paused_until;
