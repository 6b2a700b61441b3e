-- Up Migration
-- The cluster store (see docs/cluster.md). Times are epoch ms in bigint; a call is kept whole as
-- jsonb, with the few facts the queries need (state, end time, flags per member) in columns.
CREATE TABLE users (
  user_id text PRIMARY KEY,
  created_at bigint NOT NULL
);

CREATE TABLE calls (
  seq bigserial PRIMARY KEY,
  call_id text NOT NULL UNIQUE,
  state smallint NOT NULL,
  end_time bigint NOT NULL,
  version integer NOT NULL,
  data jsonb NOT NULL
);
-- CallState.Ended = 2
CREATE INDEX calls_ended ON calls (end_time) WHERE state = 2;
CREATE INDEX calls_started ON calls (seq) WHERE state = 1;

-- One row per user that has a call list: its head position, and the row that serializes the
-- per-user rules (busy check, list positions) between commits on different calls and nodes.
CREATE TABLE user_heads (
  user_id text PRIMARY KEY,
  list_pos bigint NOT NULL
);

CREATE TABLE call_members (
  user_id text NOT NULL,
  call_seq bigint NOT NULL REFERENCES calls (seq) ON DELETE CASCADE,
  -- Taken from user_heads while its row is locked, so positions rise in commit order.
  list_pos bigint NOT NULL,
  active boolean NOT NULL,
  accepted boolean NOT NULL,
  PRIMARY KEY (user_id, call_seq)
);
CREATE UNIQUE INDEX call_members_list ON call_members (user_id, list_pos);
CREATE INDEX call_members_active ON call_members (user_id) WHERE active;
CREATE INDEX call_members_accepted ON call_members (user_id) WHERE accepted;
CREATE INDEX call_members_call ON call_members (call_seq);

CREATE TABLE timers (
  call_seq bigint NOT NULL REFERENCES calls (seq) ON DELETE CASCADE,
  kind text NOT NULL,
  user_id text NOT NULL,
  due_at bigint NOT NULL,
  -- A node that claims a due timer holds it until lease_until; past that, any node may.
  lease_until bigint NOT NULL DEFAULT 0,
  lease_owner text,
  PRIMARY KEY (call_seq, kind, user_id)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  call_id text NOT NULL,
  version integer NOT NULL,
  facts jsonb NOT NULL
);

-- Down Migration
DROP TABLE outbox;
DROP TABLE timers;
DROP TABLE call_members;
DROP TABLE user_heads;
DROP TABLE calls;
DROP TABLE users;
