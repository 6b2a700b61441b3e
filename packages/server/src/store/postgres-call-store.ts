// The cluster store: PostgreSQL through a node-postgres pool, shared by every node. Per-call
// writes are serialized by the version compare-and-set, per-user rules by a row lock per user.
import { fileURLToPath } from "node:url";
import type { Call, Fact, Member, TimerKind } from "@beckon/engine";
import { CallState, CallUserState, isActive } from "@beckon/protocol";
import { runner } from "node-pg-migrate";
import pg from "pg";
import {
  type CallLog,
  type DeliveryRecord,
  deliveriesOf,
  type StoredDelivery,
} from "../timeline/call-log.js";
import {
  type CallCommit,
  type CallDecision,
  type CallListFilter,
  type CallPage,
  type CallStore,
  type CallUpdate,
  type CommitResult,
  type OutboxEntry,
  type StartedCallCounts,
  type StoredTimer,
  startedCallCounts,
} from "./call-store.js";
import { KnownUsers } from "./known-users.js";

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:port/db`. */
  connectionString: string;
  /** The schema holding Beckon's tables (created if missing); "public" by default. */
  schema?: string;
  /** Connections in this node's pool. */
  poolSize?: number;
}

/** A timer handed to one node until `leaseUntil`. */
export interface ClaimedTimer extends StoredTimer {
  leaseUntil: number;
}

const migrationsDir = fileURLToPath(new URL("../../migrations/postgres", import.meta.url));

// Every int8 this store reads is an epoch-ms time, a position or a count: all far below 2^53.
const int8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === int8 && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The two indexed facts about a membership: in a Started call, active / Accepted. */
function flagsOf(call: Call, member: Member): { active: boolean; accepted: boolean } {
  const started = call.state === CallState.Started;
  return {
    active: started && isActive(member.state),
    accepted: started && member.state === CallUserState.Accepted,
  };
}

const deadlock = "40P01";
/** Acknowledged outbox entries kept for the next read to delete, at most. */
const ACKS_HELD = 10_000;
/** How often a node that is not the outbox relay asks whether it may become it. */
const RELAY_ASK_EVERY_MS = 1_000;

/** What `decide` threw, carried past the store's own error handling. */
class Refused {
  constructor(readonly error: unknown) {}
}

/** Both queries' answers, once both are in (pipelined); the first failure if any failed. */
async function settled<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  return [a.value, b.value];
}

function pgCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

// Named statements: each connection parses and plans them once.
const sql = {
  commit: {
    name: "beckon_commit",
    text: `SELECT beckon_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
             $16, $17, $18, $19, $20, $21)`,
  },
  commitWithDeliveries: {
    name: "beckon_commit_with_deliveries",
    // The commit and the deliveries that ride on it in one statement, so one transaction.
    text: `WITH committed AS MATERIALIZED (
             SELECT beckon_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
               $15, $16, $17, $18, $19, $20, $21) AS done
           )
           INSERT INTO device_deliveries (call_id, user_id, device_id, step, deadline, at)
           SELECT $1::text, user_id, device_id, step, deadline, min(at)
           FROM committed,
             unnest($22::text[], $23::text[], $24::text[], $25::bigint[], $26::bigint[])
               AS r(user_id, device_id, step, deadline, at)
           GROUP BY user_id, device_id, step, deadline
           ON CONFLICT (call_id, user_id, device_id, step, deadline)
           DO UPDATE SET at = least(device_deliveries.at, excluded.at)`,
  },
  getCall: { name: "beckon_get_call", text: "SELECT data FROM calls WHERE call_id = $1" },
  // The row lock that serializes a call's commands across nodes, held until the command's
  // transaction ends.
  lockCall: {
    name: "beckon_lock_call",
    text: "SELECT data FROM calls WHERE call_id = $1 FOR UPDATE",
  },
  activeCalls: {
    name: "beckon_active_calls",
    text: `SELECT c.data FROM call_members m JOIN calls c ON c.seq = m.call_seq
           WHERE m.user_id = $1 AND m.active`,
  },
  listCalls: {
    name: "beckon_list_calls",
    text: `SELECT m.list_pos, c.data FROM call_members m JOIN calls c ON c.seq = m.call_seq
           WHERE m.user_id = $1 AND m.list_pos < $2 ORDER BY m.list_pos DESC LIMIT $3`,
  },
  listRinging: {
    name: "beckon_list_ringing",
    text: `SELECT data FROM calls WHERE seq IN
             (SELECT DISTINCT call_seq FROM timers WHERE kind = 'deadline')
           ORDER BY seq DESC LIMIT $1`,
  },
  listStarted: {
    name: "beckon_list_started",
    text: `SELECT data FROM calls WHERE state = ${CallState.Started} ORDER BY seq DESC LIMIT $1`,
  },
  listRecent: {
    name: "beckon_list_recent",
    text: "SELECT data FROM calls ORDER BY seq DESC LIMIT $1",
  },
  countRinging: {
    name: "beckon_count_ringing",
    text: "SELECT count(DISTINCT call_seq)::int AS n FROM timers WHERE kind = 'deadline'",
  },
  startedCalls: {
    name: "beckon_started_calls",
    text: `SELECT call_id FROM calls WHERE state = ${CallState.Started} ORDER BY seq`,
  },
  countStarted: {
    name: "beckon_count_started_calls",
    text: `SELECT (data->>'mode')::int AS mode, count(*)::int AS count FROM calls
           WHERE state = ${CallState.Started} GROUP BY 1`,
  },
  allTimers: {
    name: "beckon_all_timers",
    text: `SELECT c.call_id, t.kind, t.user_id, t.due_at FROM timers t
           JOIN calls c ON c.seq = t.call_seq`,
  },
  takeRelay: {
    name: "beckon_take_relay",
    text: "SELECT pg_try_advisory_lock(hashtext('beckon.outbox.' || current_schema())) AS taken",
  },
  readOutbox: {
    name: "beckon_read_outbox",
    text: "SELECT id, call_id, version, facts FROM outbox ORDER BY id LIMIT $1",
  },
  ackOutbox: {
    name: "beckon_ack_outbox",
    // The acknowledged entries move to the calls' timelines in the same statement: the facts
    // are written once by the commit, never by a hook of their own.
    text: `WITH acked AS (
             DELETE FROM outbox WHERE id = ANY($1::bigint[]) RETURNING id, call_id, version, facts
           )
           INSERT INTO call_timeline (fact_id, call_id, version, at, facts)
           SELECT call_id || ':' || version, call_id, version,
                  coalesce((facts->0->>'at')::bigint, 0), facts
           FROM acked ORDER BY id
           ON CONFLICT (fact_id) DO NOTHING`,
  },
  // The entries acknowledged since the last read go in the same statement (one transaction a
  // round, not two), on to the timelines as above; a data-changing CTE is not seen by its own
  // SELECT, hence the filter.
  ackAndReadOutbox: {
    name: "beckon_ack_read_outbox",
    text: `WITH acked AS (
             DELETE FROM outbox WHERE id = ANY($2::bigint[]) RETURNING id, call_id, version, facts
           ), moved AS (
             INSERT INTO call_timeline (fact_id, call_id, version, at, facts)
             SELECT call_id || ':' || version, call_id, version,
                    coalesce((facts->0->>'at')::bigint, 0), facts
             FROM acked ORDER BY id
             ON CONFLICT (fact_id) DO NOTHING
           )
           SELECT id, call_id, version, facts FROM outbox WHERE NOT (id = ANY($2::bigint[]))
           ORDER BY id LIMIT $1`,
  },
  addDeliveries: {
    name: "beckon_add_deliveries",
    // A batch in one statement; a record seen twice (or stored already) keeps its first time.
    text: `INSERT INTO device_deliveries (call_id, user_id, device_id, step, deadline, at)
           SELECT call_id, user_id, device_id, step, deadline, min(at)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
             AS r(call_id, user_id, device_id, step, deadline, at)
           GROUP BY call_id, user_id, device_id, step, deadline
           ON CONFLICT (call_id, user_id, device_id, step, deadline)
           DO UPDATE SET at = least(device_deliveries.at, excluded.at)`,
  },
  factsOf: {
    name: "beckon_facts_of",
    // Acknowledged entries (the timeline) and those still in the outbox: one snapshot, so an
    // entry being moved is seen in exactly one of them.
    text: `SELECT version, facts FROM call_timeline WHERE call_id = $1
           UNION ALL
           SELECT version, facts FROM outbox WHERE call_id = $1
           ORDER BY version`,
  },
  deliveriesOf: {
    name: "beckon_deliveries_of",
    text: `SELECT user_id, device_id, step, deadline, at FROM device_deliveries
           WHERE call_id = $1`,
  },
  purge: {
    name: "beckon_purge",
    text: `WITH gone AS (
             DELETE FROM calls WHERE state = ${CallState.Ended} AND end_time < $1 RETURNING call_id
           ), timeline AS (
             DELETE FROM call_timeline WHERE call_id IN (SELECT call_id FROM gone)
           ), deliveries AS (
             DELETE FROM device_deliveries WHERE call_id IN (SELECT call_id FROM gone)
           ), relayed AS (
             -- Entries past the retention were relayed long ago; an acknowledgement may still
             -- wait for the relay's next read.
             DELETE FROM outbox WHERE call_id IN (SELECT call_id FROM gone)
           )
           SELECT count(*)::int AS n FROM gone`,
  },
  addUsers: {
    name: "beckon_add_users",
    text: `INSERT INTO users (user_id, created_at) SELECT u, $2 FROM unnest($1::text[]) AS u
           ON CONFLICT (user_id) DO NOTHING`,
  },
  knownUsers: {
    name: "beckon_known_users",
    text: "SELECT user_id FROM users WHERE user_id = ANY($1::text[])",
  },
  claimTimers: {
    name: "beckon_claim_timers",
    // SKIP LOCKED: nodes polling at the same moment split the due timers instead of queueing on
    // them; the lease keeps a claimed timer away from the others until it runs out.
    text: `WITH due AS (
             SELECT call_seq, kind, user_id FROM timers
             WHERE due_at <= $1 AND lease_until <= $1
             ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED
           )
           UPDATE timers t SET lease_until = $2, lease_owner = $4
           FROM due, calls c
           WHERE t.call_seq = due.call_seq AND t.kind = due.kind AND t.user_id = due.user_id
             AND c.seq = t.call_seq
           RETURNING c.call_id, t.kind, t.user_id, t.due_at, t.lease_until`,
  },
  finishTimer: {
    name: "beckon_finish_timer",
    // Only the claim that was handled: a timer moved or re-claimed meanwhile stays.
    text: `DELETE FROM timers t USING calls c
           WHERE c.call_id = $1 AND t.call_seq = c.seq AND t.kind = $2 AND t.user_id = $3
             AND t.due_at = $4 AND t.lease_owner = $5`,
  },
  nextDue: {
    name: "beckon_next_due",
    text: `SELECT
             (SELECT due_at FROM timers WHERE lease_until <= $1 ORDER BY due_at LIMIT 1) AS due,
             (SELECT min(lease_until) FROM timers WHERE lease_until > 0 AND lease_until > $1)
               AS lease`,
  },
  countTimers: { name: "beckon_count_timers", text: "SELECT count(*) AS n FROM timers" },
} as const;

interface UserLock {
  userID: string;
  /** 1 when the commit adds the user to the call (a new list position), else 0. */
  step: number;
}

export class PostgresCallStore implements CallStore {
  /** The one connection holding the outbox relay's lock, while this node is the relay. */
  private relayReady: Promise<pg.Client> | null = null;
  private relayHeld = false;
  private relayAskAgainAt = 0;
  private closed = false;
  private readonly knownUsersCache = new KnownUsers();
  /** Outbox entries the hooks have, deleted with the next read (or at close). */
  private acked: number[] = [];

  private constructor(
    /**
     * The node's connections, on the schema's search path; the integrations' stores share it
     * (their tables come with the same migrations). Closed with the store. Internal: kept out of
     * the published types, so apps need no `pg` types to use the package.
     * @internal
     */
    readonly pool: pg.Pool,
    private readonly options: Required<PostgresStoreOptions>,
  ) {}

  /** Connects and brings the schema up to date (nodes starting together wait for each other). */
  static async open(options: PostgresStoreOptions): Promise<PostgresCallStore> {
    const settings = { schema: "public", poolSize: 10, ...options };
    if (!/^[a-z_][a-z0-9_]*$/.test(settings.schema))
      throw new Error(`invalid PostgreSQL schema name: ${settings.schema}`);
    const client = new pg.Client({ connectionString: settings.connectionString });
    await client.connect();
    try {
      await runner({
        dbClient: client,
        dir: migrationsDir,
        direction: "up",
        migrationsTable: "beckon_migrations",
        schema: settings.schema,
        createSchema: true,
        checkOrder: true,
        advisoryLockMode: "wait",
        log: () => {},
      });
    } finally {
      await client.end();
    }
    const pool = new pg.Pool({
      connectionString: settings.connectionString,
      max: settings.poolSize,
      // A connection sends queries without waiting for the previous answer: a command's BEGIN
      // and its locking read, and its commit and COMMIT, each cost one round trip.
      pipeline: true,
      options: `-c search_path=${settings.schema}`,
      types,
    });
    // An idle connection that breaks (database restart) is dropped by the pool; without a
    // listener the error would end the process.
    pool.on("error", () => {});
    // The pool listens on a connection only while it is idle: one checked out (a commit's) that
    // breaks between two queries would end the process too. Its next query fails instead.
    pool.on("connect", (client) => client.on("error", () => {}));
    return new PostgresCallStore(pool, settings);
  }

  async commit(change: CallCommit): Promise<CommitResult> {
    const values = this.commitArguments(change);
    for (let attempt = 1; ; attempt++) {
      // A connection of its own, not `pool.query`: the pool closes a connection whose query
      // failed, and a lost compare-and-set is an expected failure. Closing one per conflict made
      // every conflict between nodes cost a new connection (and PostgreSQL a new process).
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(
          values.length > 21 ? { ...sql.commitWithDeliveries, values } : { ...sql.commit, values },
        );
        return { ok: true };
      } catch (error) {
        // Only what PostgreSQL reported leaves the connection fit for the next query.
        if (!(error instanceof pg.DatabaseError)) broken = error as Error;
        const code = pgCode(error);
        if (code === "BK001") return { ok: false, conflict: "version" };
        if (code === "BK002") return { ok: false, conflict: "busy" };
        // A deadlock rolls the whole commit back, so running it again is safe.
        if (code === deadlock && attempt < 3) continue;
        throw error;
      } finally {
        client.release(broken);
      }
    }
  }

  async update<T>(
    callID: string,
    decide: (call: Call | undefined) => CallDecision<T> | Promise<CallDecision<T>>,
  ): Promise<CallUpdate<T>> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const [, read] = await settled(
        client.query("BEGIN"),
        client.query<{ data: Call }>({ ...sql.lockCall, values: [callID] }),
      );
      let decided: CallDecision<T>;
      try {
        decided = await decide(read.rows[0]?.data);
      } catch (error) {
        // The command's refusal: the connection is fine, the transaction is rolled back below.
        throw new Refused(error);
      }
      if (!decided.change) {
        await client.query("COMMIT");
        return { value: decided.value };
      }
      const values = this.commitArguments(decided.change);
      try {
        // After a failed commit statement, COMMIT ends the transaction as a ROLLBACK.
        await settled(
          client.query(
            values.length > 21
              ? { ...sql.commitWithDeliveries, values }
              : { ...sql.commit, values },
          ),
          client.query("COMMIT"),
        );
      } catch (error) {
        const code = pgCode(error);
        if (code === "BK001")
          return { value: decided.value, result: { ok: false, conflict: "version" } };
        if (code === "BK002")
          return { value: decided.value, result: { ok: false, conflict: "busy" } };
        throw error;
      }
      return { value: decided.value, result: { ok: true } };
    } catch (error) {
      if (error instanceof Refused) throw error.error;
      // Only what PostgreSQL reported leaves the connection fit for the next query.
      if (!(error instanceof pg.DatabaseError)) broken = error as Error;
      throw error;
    } finally {
      // What `decide` threw, or a failed statement, leaves the transaction open or aborted.
      if (!broken && client.getTransactionStatus() !== "I") {
        await client.query("ROLLBACK").catch((error: unknown) => {
          broken = error as Error;
        });
      }
      client.release(broken);
    }
  }

  /**
   * The arguments of `beckon_commit`: only what changed, as parallel arrays; then the
   * deliveries riding on the commit, if any.
   */
  private commitArguments(change: CallCommit): unknown[] {
    const { call, before, timers, facts, idleUser } = change;
    const deliveries = change.deliveries ?? [];
    const locks = this.usersToLock(change);
    const previous = new Map(before?.members.map((member) => [member.userID, member]));
    const added = { users: [] as string[], active: [] as boolean[], accepted: [] as boolean[] };
    const moved = { users: [] as string[], active: [] as boolean[], accepted: [] as boolean[] };
    for (const member of call.members) {
      const now = flagsOf(call, member);
      const old = previous.get(member.userID);
      if (old === undefined || before === null) {
        added.users.push(member.userID);
        added.active.push(now.active);
        added.accepted.push(now.accepted);
        continue;
      }
      // Member rows change in place, and only those whose indexed flags moved.
      const then = flagsOf(before, old);
      if (then.active !== now.active || then.accepted !== now.accepted) {
        moved.users.push(member.userID);
        moved.active.push(now.active);
        moved.accepted.push(now.accepted);
      }
    }
    return [
      call.callID,
      call.state,
      call.endTime,
      call.version,
      call,
      before?.version ?? null,
      idleUser ?? null,
      locks.map((lock) => lock.userID),
      locks.map((lock) => lock.step),
      added.users,
      added.active,
      added.accepted,
      moved.users,
      moved.active,
      moved.accepted,
      timers.clear.map((t) => t.kind),
      timers.clear.map((t) => t.userID),
      timers.set.map((t) => t.kind),
      timers.set.map((t) => t.userID),
      timers.set.map((t) => t.at),
      facts.length > 0 ? JSON.stringify(facts) : null,
      ...(deliveries.length === 0
        ? []
        : [
            deliveries.map((r) => r.userID),
            deliveries.map((r) => r.deviceID),
            deliveries.map((r) => r.step),
            deliveries.map((r) => r.deadline),
            deliveries.map((r) => r.at),
          ]),
    ];
  }

  /**
   * The users whose rows this commit must hold: the one the busy rule is checked for, every
   * user who becomes Accepted (the other side of that rule), and every new member (a list
   * position). Holding them serializes the busy rule across nodes.
   */
  private usersToLock({ call, before, idleUser }: CallCommit): UserLock[] {
    const locks = new Map<string, number>();
    if (idleUser !== undefined) locks.set(idleUser, 0);
    const previous = new Map(before?.members.map((member) => [member.userID, member]));
    for (const member of call.members) {
      const old = previous.get(member.userID);
      if (old === undefined || before === null) locks.set(member.userID, 1);
      else if (flagsOf(call, member).accepted && !flagsOf(before, old).accepted)
        locks.set(member.userID, locks.get(member.userID) ?? 0);
    }
    return [...locks].map(([userID, step]) => ({ userID, step }));
  }

  async getCall(callID: string): Promise<Call | undefined> {
    const result = await this.pool.query<{ data: Call }>({ ...sql.getCall, values: [callID] });
    return result.rows[0]?.data;
  }

  async activeCallsOf(userID: string): Promise<Call[]> {
    const result = await this.pool.query<{ data: Call }>({
      ...sql.activeCalls,
      values: [userID],
    });
    return result.rows.map((row) => row.data);
  }

  /**
   * Pages by the user's list position, which is handed out under the user's row lock and so
   * rises in commit order: a call committed after a page was read always lands above that
   * page, never inside the part of the list still to come.
   */
  async listCallsOf(userID: string, count: number, before: number): Promise<CallPage> {
    const result = await this.pool.query<{ list_pos: number; data: Call }>({
      ...sql.listCalls,
      values: [userID, before > 0 ? before : Number.MAX_SAFE_INTEGER, count + 1],
    });
    const page = result.rows.slice(0, count);
    const last = page.at(-1);
    return {
      calls: page.map((row) => row.data),
      next: result.rows.length > count && last ? last.list_pos : 0,
    };
  }

  async listCalls(filter: CallListFilter, limit: number): Promise<Call[]> {
    const query =
      filter === "ringing"
        ? sql.listRinging
        : filter === "started"
          ? sql.listStarted
          : sql.listRecent;
    const result = await this.pool.query<{ data: Call }>({ ...query, values: [limit] });
    return result.rows.map((row) => row.data);
  }

  async countRingingCalls(): Promise<number> {
    const result = await this.pool.query<{ n: number }>(sql.countRinging);
    return result.rows[0]?.n ?? 0;
  }

  async startedCallIDs(): Promise<string[]> {
    const result = await this.pool.query<{ call_id: string }>(sql.startedCalls);
    return result.rows.map((row) => row.call_id);
  }

  async countStartedCalls(): Promise<StartedCallCounts> {
    const result = await this.pool.query<{ mode: number; count: number }>(sql.countStarted);
    return startedCallCounts(result.rows);
  }

  async allTimers(): Promise<StoredTimer[]> {
    const result = await this.pool.query<{
      call_id: string;
      kind: string;
      user_id: string;
      due_at: number;
    }>(sql.allTimers);
    return result.rows.map((row) => ({
      callID: row.call_id,
      kind: row.kind as TimerKind,
      userID: row.user_id,
      at: row.due_at,
    }));
  }

  /**
   * Only the node holding the relay lock reads the outbox (the others get nothing), so facts
   * reach the hooks from one relay in order. The lock is a session advisory lock on a connection
   * of its own: if this node dies or that connection breaks, PostgreSQL frees it for another.
   */
  async readOutbox(limit: number): Promise<OutboxEntry[]> {
    if (this.closed) return [];
    if (!this.relayReady) {
      let failed = () => {};
      const connecting = this.connectRelay(() => failed());
      failed = () => void this.dropRelay(connecting);
      this.relayReady = connecting;
    }
    const relay = this.relayReady;
    try {
      const client = await relay;
      if (!this.relayHeld) {
        // Another node relays: ask again now and then, not on every commit of this node.
        if (Date.now() < this.relayAskAgainAt) return [];
        const taken = await client.query<{ taken: boolean }>(sql.takeRelay);
        this.relayHeld = taken.rows[0]?.taken === true;
        if (!this.relayHeld) {
          this.relayAskAgainAt = Date.now() + RELAY_ASK_EVERY_MS;
          return [];
        }
      }
      const acked = this.acked;
      this.acked = [];
      const result = await client
        .query<{ id: number; call_id: string; version: number; facts: Fact[] }>(
          acked.length > 0
            ? { ...sql.ackAndReadOutbox, values: [limit, acked] }
            : { ...sql.readOutbox, values: [limit] },
        )
        .catch((error: unknown) => {
          this.acked = [...acked, ...this.acked];
          throw error;
        });
      return result.rows.map((row) => ({
        id: row.id,
        callID: row.call_id,
        version: row.version,
        facts: row.facts,
      }));
    } catch (error) {
      void this.dropRelay(relay);
      throw error;
    }
  }

  /**
   * Only the relay acknowledges, and it reads again after: the delete rides on that read. A
   * relay that stops first leaves them to be handed out again (at least once, as promised).
   */
  async ackOutbox(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    this.acked.push(...ids);
    if (this.acked.length < ACKS_HELD) return;
    const acked = this.acked;
    this.acked = [];
    await this.pool.query({ ...sql.ackOutbox, values: [acked] });
  }

  /** The relay's own connection, kept open so a node that is not the relay can ask again cheaply. */
  private async connectRelay(onError: () => void): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      options: `-c search_path=${this.options.schema}`,
      types,
    });
    client.on("error", onError);
    await client.connect();
    return client;
  }

  /** Forgets the relay connection; ending its session releases the lock for another node. */
  private dropRelay(relay: Promise<pg.Client>): Promise<void> {
    if (this.relayReady !== relay) return Promise.resolve();
    this.relayReady = null;
    this.relayHeld = false;
    return relay.then((client) => client.end()).catch(() => {});
  }

  async recordDeliveries(records: readonly DeliveryRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.pool.query({
      ...sql.addDeliveries,
      values: [
        records.map((r) => r.callID),
        records.map((r) => r.userID),
        records.map((r) => r.deviceID),
        records.map((r) => r.step),
        records.map((r) => r.deadline),
        records.map((r) => r.at),
      ],
    });
  }

  async logOf(callID: string): Promise<CallLog> {
    const [facts, deliveries] = await Promise.all([
      this.pool.query<{ version: number; facts: Fact[] }>({ ...sql.factsOf, values: [callID] }),
      this.pool.query<{
        user_id: string;
        device_id: string;
        step: StoredDelivery[2];
        deadline: number;
        at: number;
      }>({ ...sql.deliveriesOf, values: [callID] }),
    ]);
    return {
      facts: facts.rows.flatMap((row) => row.facts),
      deliveries: deliveriesOf(
        callID,
        deliveries.rows.map(
          (r): StoredDelivery => [r.user_id, r.device_id, r.step, r.deadline, r.at],
        ),
      ),
    };
  }

  async purgeEndedBefore(time: number): Promise<number> {
    const result = await this.pool.query<{ n: number }>({ ...sql.purge, values: [time] });
    return result.rows[0]?.n ?? 0;
  }

  async addUsers(userIDs: readonly string[]): Promise<void> {
    if (userIDs.length === 0) return;
    await this.pool.query({ ...sql.addUsers, values: [userIDs, Date.now()] });
  }

  async knownUsers(userIDs: readonly string[]): Promise<Set<string>> {
    return this.knownUsersCache.filter(userIDs, async (ask) => {
      const result = await this.pool.query<{ user_id: string }>({
        ...sql.knownUsers,
        values: [ask],
      });
      return result.rows.map((row) => row.user_id);
    });
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  // --- For the PostgreSQL timer source (not part of CallStore). ---

  /**
   * Claims up to `limit` timers due at `now` that no live lease holds, for `owner` until
   * `leaseUntil`. Each due timer goes to exactly one claimer until its lease runs out.
   */
  async claimDueTimers(
    now: number,
    leaseUntil: number,
    owner: string,
    limit: number,
  ): Promise<ClaimedTimer[]> {
    const result = await this.pool.query<{
      call_id: string;
      kind: string;
      user_id: string;
      due_at: number;
      lease_until: number;
    }>({ ...sql.claimTimers, values: [now, leaseUntil, limit, owner] });
    return result.rows
      .map((row) => ({
        callID: row.call_id,
        kind: row.kind as TimerKind,
        userID: row.user_id,
        at: row.due_at,
        leaseUntil: row.lease_until,
      }))
      .sort((a, b) => a.at - b.at);
  }

  /**
   * Drops a claimed timer once its handler ran, unless it was moved or claimed again since: a
   * handler whose decision kept the timer where it was must not see it again.
   */
  async finishTimer(timer: StoredTimer, owner: string): Promise<void> {
    await this.pool.query({
      ...sql.finishTimer,
      values: [timer.callID, timer.kind, timer.userID, timer.at, owner],
    });
  }

  /** When a timer can next be claimed at `now` or later (due and not held), if any. */
  async nextTimer(now: number): Promise<number | null> {
    const result = await this.pool.query<{ due: number | null; lease: number | null }>({
      ...sql.nextDue,
      values: [now],
    });
    const { due = null, lease = null } = result.rows[0] ?? {};
    if (due === null) return lease;
    return lease === null ? due : Math.min(due, lease);
  }

  /** How many timers are pending (a full count: for start-up and gauges, not a hot path). */
  async countTimers(): Promise<number> {
    const result = await this.pool.query<{ n: number }>(sql.countTimers);
    return result.rows[0]?.n ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.acked.length > 0) {
      const acked = this.acked;
      this.acked = [];
      await this.pool.query({ ...sql.ackOutbox, values: [acked] }).catch(() => {});
    }
    if (this.relayReady) await this.dropRelay(this.relayReady);
    await this.pool.end();
  }
}
