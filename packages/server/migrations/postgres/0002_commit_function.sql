-- Up Migration
-- One commit in one round trip: the steps of a commit, run inside the database as a single
-- statement (so atomic). A conflict raises BK001 (version) or BK002 (busy), which rolls back
-- everything the statement did, list positions included.
CREATE FUNCTION beckon_commit(
  p_call_id text, p_state smallint, p_end_time bigint, p_version integer, p_data jsonb,
  p_before_version integer,
  p_idle_user text,
  p_lock_users text[], p_lock_steps integer[],
  p_new_users text[], p_new_active boolean[], p_new_accepted boolean[],
  p_changed_users text[], p_changed_active boolean[], p_changed_accepted boolean[],
  p_clear_kinds text[], p_clear_users text[],
  p_set_kinds text[], p_set_users text[], p_set_due bigint[],
  p_facts jsonb
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_seq bigint;
  v_users text[];
  v_positions bigint[];
BEGIN
  -- Users first, in sorted order: two commits that share users cannot deadlock, and the busy
  -- check below runs after any commit holding the same user has finished.
  IF cardinality(p_lock_users) > 0 THEN
    WITH heads AS (
      INSERT INTO user_heads (user_id, list_pos)
      SELECT u, step FROM unnest(p_lock_users, p_lock_steps) AS t(u, step) ORDER BY u
      ON CONFLICT (user_id) DO UPDATE SET list_pos = user_heads.list_pos + excluded.list_pos
      RETURNING user_id, list_pos
    )
    SELECT array_agg(user_id), array_agg(list_pos) INTO v_users, v_positions FROM heads;
  END IF;

  IF p_before_version IS NULL THEN
    IF p_idle_user IS NOT NULL AND EXISTS (
      SELECT 1 FROM call_members WHERE user_id = p_idle_user AND accepted
    ) THEN
      RAISE EXCEPTION 'busy' USING ERRCODE = 'BK002';
    END IF;
    INSERT INTO calls (call_id, state, end_time, version, data)
    VALUES (p_call_id, p_state, p_end_time, p_version, p_data)
    RETURNING seq INTO v_seq;
  ELSE
    UPDATE calls SET state = p_state, end_time = p_end_time, version = p_version, data = p_data
    WHERE call_id = p_call_id AND version = p_before_version
    RETURNING seq INTO v_seq;
    IF v_seq IS NULL THEN
      RAISE EXCEPTION 'version' USING ERRCODE = 'BK001';
    END IF;
    IF p_idle_user IS NOT NULL AND EXISTS (
      SELECT 1 FROM call_members WHERE user_id = p_idle_user AND accepted AND call_seq <> v_seq
    ) THEN
      RAISE EXCEPTION 'busy' USING ERRCODE = 'BK002';
    END IF;
  END IF;

  IF cardinality(p_new_users) > 0 THEN
    INSERT INTO call_members (user_id, call_seq, list_pos, active, accepted)
    SELECT t.u, v_seq, h.pos, t.a, t.c
    FROM unnest(p_new_users, p_new_active, p_new_accepted) AS t(u, a, c)
    JOIN unnest(v_users, v_positions) AS h(u, pos) ON h.u = t.u;
  END IF;
  IF cardinality(p_changed_users) > 0 THEN
    UPDATE call_members m SET active = t.a, accepted = t.c
    FROM unnest(p_changed_users, p_changed_active, p_changed_accepted) AS t(u, a, c)
    WHERE m.call_seq = v_seq AND m.user_id = t.u;
  END IF;
  IF cardinality(p_clear_kinds) > 0 THEN
    DELETE FROM timers t USING unnest(p_clear_kinds, p_clear_users) AS d(k, u)
    WHERE t.call_seq = v_seq AND t.kind = d.k AND t.user_id = d.u;
  END IF;
  IF cardinality(p_set_kinds) > 0 THEN
    -- A moved timer is due afresh: any lease on its old time no longer holds.
    INSERT INTO timers (call_seq, kind, user_id, due_at)
    SELECT v_seq, k, u, d FROM unnest(p_set_kinds, p_set_users, p_set_due) AS t(k, u, d)
    ON CONFLICT (call_seq, kind, user_id)
    DO UPDATE SET due_at = excluded.due_at, lease_until = 0, lease_owner = NULL;
  END IF;
  -- After the call row: a later commit on this call waits on that row, so its outbox id is
  -- higher, and the relay sees one call's facts in version order.
  IF p_facts IS NOT NULL THEN
    INSERT INTO outbox (call_id, version, facts) VALUES (p_call_id, p_version, p_facts);
  END IF;
END
$$;

-- Down Migration
DROP FUNCTION beckon_commit;
