-- Up Migration
-- Secrets every node of a cluster must hold the same of (the Web Push VAPID key pair): the first
-- node to start makes them, the others read them.
CREATE TABLE shared_secrets (
  name text PRIMARY KEY,
  value jsonb NOT NULL,
  created_at bigint NOT NULL
);

-- Down Migration
DROP TABLE shared_secrets;
