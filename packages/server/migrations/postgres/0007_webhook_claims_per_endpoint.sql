-- Up Migration
-- Deliveries are claimed endpoint by endpoint: the queue-wide index only cost every insert.
DROP INDEX webhook_deliveries_due;

-- Down Migration
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
