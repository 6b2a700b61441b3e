-- Up Migration
-- The integrations' tables beside the calls, so every node shares them: API keys, push
-- registrations and the log of pushes sent, webhook endpoints with their delivery queue and
-- attempts, and call timelines. Times are epoch ms in bigint, as in the call tables.
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  -- SHA-256 of the secret; the secret itself is never stored.
  hash bytea NOT NULL,
  scopes jsonb NOT NULL,
  created_at bigint NOT NULL,
  last_used_at bigint NOT NULL DEFAULT 0
);

CREATE TABLE push_registrations (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  device_id text NOT NULL,
  provider text NOT NULL,
  address text NOT NULL,
  target jsonb NOT NULL,
  created_at bigint NOT NULL,
  UNIQUE (provider, address)
);
CREATE UNIQUE INDEX push_registrations_device ON push_registrations (user_id, device_id, provider);

CREATE TABLE push_sends (
  id bigserial PRIMARY KEY,
  -- The fact (or commit) the push is for: one send per fact and registration, whichever node
  -- relays the fact and however often.
  dedupe_key text NOT NULL,
  call_id text NOT NULL,
  user_id text NOT NULL,
  device_id text NOT NULL,
  registration_id text NOT NULL,
  provider text NOT NULL,
  kind text NOT NULL,
  status text NOT NULL,
  http_status integer NOT NULL DEFAULT 0,
  reason text NOT NULL DEFAULT '',
  queued_at bigint NOT NULL,
  done_at bigint NOT NULL DEFAULT 0,
  -- When a node last took the queued send; long past that, the node is presumed dead.
  claimed_at bigint NOT NULL,
  message jsonb NOT NULL,
  UNIQUE (dedupe_key, registration_id)
);
CREATE INDEX push_sends_call ON push_sends (call_id, id);
CREATE INDEX push_sends_queued ON push_sends (claimed_at) WHERE status = 'queued';

CREATE TABLE webhook_endpoints (
  id text PRIMARY KEY,
  url text NOT NULL,
  secret text NOT NULL,
  -- The event types sent there (a JSON array), or NULL for all.
  events jsonb,
  description text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  dedupe_key text NOT NULL,
  type text NOT NULL,
  -- The exact bytes that are signed and sent.
  body text NOT NULL,
  status text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  -- While an attempt runs, the end of its lease: past it, another node tries again.
  next_attempt_at bigint NOT NULL,
  lease_owner text NOT NULL DEFAULT '',
  created_at bigint NOT NULL,
  last_status integer NOT NULL DEFAULT 0,
  last_error text NOT NULL DEFAULT '',
  done_at bigint NOT NULL DEFAULT 0,
  UNIQUE (endpoint_id, dedupe_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (created_at, id);

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  at bigint NOT NULL,
  http_status integer NOT NULL,
  error text NOT NULL,
  duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

CREATE TABLE call_timeline (
  seq bigserial PRIMARY KEY,
  -- One row per commit (callID:version), or per fact (its outbox id).
  fact_id text NOT NULL UNIQUE,
  call_id text NOT NULL,
  version integer NOT NULL,
  at bigint NOT NULL,
  facts jsonb NOT NULL
);
CREATE INDEX call_timeline_call ON call_timeline (call_id, version, seq);
CREATE INDEX call_timeline_at ON call_timeline (at);

-- Down Migration
DROP TABLE call_timeline;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE push_sends;
DROP TABLE push_registrations;
DROP TABLE api_keys;
