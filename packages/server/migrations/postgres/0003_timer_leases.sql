-- Up Migration
-- When the next claim can happen is read from indexes, not by scanning every timer: the earliest
-- due timer nobody holds (timers_due), and the earliest lease to run out among the few held.
CREATE INDEX timers_leased ON timers (lease_until) WHERE lease_until > 0;

-- Down Migration
DROP INDEX timers_leased;
