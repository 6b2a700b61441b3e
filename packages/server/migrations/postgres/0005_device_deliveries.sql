-- Up Migration
-- When the server sent each device a call's invitation and when the device acknowledged it
-- (the per-device timeline); the first time wins.
CREATE TABLE device_deliveries (
  call_id text NOT NULL,
  user_id text NOT NULL,
  device_id text NOT NULL,
  step text NOT NULL,
  deadline bigint NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (call_id, user_id, device_id, step, deadline)
);
CREATE INDEX device_deliveries_at ON device_deliveries (at);

-- Down Migration
DROP TABLE device_deliveries;
