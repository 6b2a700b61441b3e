// The embedded single-node store: SQLite in WAL mode through better-sqlite3.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Call, Fact, Timer } from "@beckon/engine";
import { CallState, CallUserState } from "@beckon/protocol";
import Database from "better-sqlite3";
import { KeyedQueue } from "../keyed-queue.js";
import { checkpointInBackground } from "../sqlite/checkpointer.js";
import {
  type CallLog,
  type DeliveryRecord,
  deliveriesOf,
  type StoredDelivery,
  storedDeliveries,
} from "../timeline/call-log.js";
import { ActiveMembers } from "./active-members.js";
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

/**
 * Schema versions, applied in order; `PRAGMA user_version` says how many a file has. Exported
 * for the upgrade test, which builds a file the way an older version left it.
 * @internal
 */
export const sqliteMigrations = [
  `CREATE TABLE IF NOT EXISTS users (
     user_id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE IF NOT EXISTS calls (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     call_id TEXT NOT NULL UNIQUE,
     state INTEGER NOT NULL,
     end_time INTEGER NOT NULL,
     version INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX IF NOT EXISTS calls_ended ON calls(end_time) WHERE state = 2;
   CREATE TABLE IF NOT EXISTS call_members (
     user_id TEXT NOT NULL,
     call_seq INTEGER NOT NULL REFERENCES calls(seq) ON DELETE CASCADE,
     active INTEGER NOT NULL,
     PRIMARY KEY (user_id, call_seq)
   );
   CREATE INDEX IF NOT EXISTS call_members_active ON call_members(user_id) WHERE active = 1;
   CREATE INDEX IF NOT EXISTS call_members_call ON call_members(call_seq);
   CREATE TABLE IF NOT EXISTS timers (
     call_seq INTEGER NOT NULL REFERENCES calls(seq) ON DELETE CASCADE,
     kind TEXT NOT NULL,
     user_id TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     PRIMARY KEY (call_seq, kind, user_id)
   );`,
  // The busy rule is checked inside the commit, so it needs "Accepted in a Started call" indexed;
  // the outbox holds each commit's facts until the hooks have seen them.
  `ALTER TABLE call_members ADD COLUMN accepted INTEGER NOT NULL DEFAULT 0;
   UPDATE call_members SET accepted = 1 WHERE active = 1 AND EXISTS (
     SELECT 1 FROM calls c, json_each(c.data, '$.members') m
     WHERE c.seq = call_members.call_seq
       AND json_extract(m.value, '$.userID') = call_members.user_id
       AND json_extract(m.value, '$.state') = ${CallUserState.Accepted});
   CREATE INDEX call_members_accepted ON call_members(user_id) WHERE accepted = 1;
   CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     call_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     facts TEXT NOT NULL
   );`,
  // The active-calls gauge counts started calls at every scrape; without this it reads the table.
  "CREATE INDEX IF NOT EXISTS calls_started ON calls(seq) WHERE state = 1;",
  // Operators list and count ringing calls through their deadlines.
  "CREATE INDEX IF NOT EXISTS timers_kind ON timers(kind, call_seq);",
  // One row per decision. Members' busy and active flags and the started calls live in memory
  // (ActiveMembers, rebuilt from the Started calls at open), so a membership is one row keyed
  // (user, call), written when the member joins, and the timers ride in the call's row. Each
  // commit's facts and the device deliveries that came with it are one row of `call_log`: the
  // outbox (read by a cursor) and the call's timeline at once. `calls` is rebuilt without
  // AUTOINCREMENT, whose counter row was one more page written by every commit of a new call.
  `CREATE TABLE calls_v4 (
     seq INTEGER PRIMARY KEY,
     call_id TEXT NOT NULL UNIQUE,
     state INTEGER NOT NULL,
     end_time INTEGER NOT NULL,
     version INTEGER NOT NULL,
     data TEXT NOT NULL,
     timers TEXT NOT NULL
   );
   INSERT INTO calls_v4 (seq, call_id, state, end_time, version, data, timers)
   SELECT seq, call_id, state, end_time, version, data, coalesce((
     SELECT json_group_array(json_object('kind', kind, 'userID', user_id, 'at', due_at))
     FROM timers t WHERE t.call_seq = calls.seq), '[]')
   FROM calls;
   DROP TABLE timers;
   CREATE TABLE call_history (
     user_id TEXT NOT NULL,
     call_seq INTEGER NOT NULL,
     PRIMARY KEY (user_id, call_seq)
   ) WITHOUT ROWID;
   INSERT INTO call_history (user_id, call_seq) SELECT user_id, call_seq FROM call_members;
   CREATE INDEX call_history_call ON call_history(call_seq);
   DROP TABLE call_members;
   DROP TABLE calls;
   ALTER TABLE calls_v4 RENAME TO calls;
   CREATE INDEX calls_ended ON calls(end_time) WHERE state = 2;
   CREATE TABLE call_log (
     id INTEGER PRIMARY KEY,
     call_seq INTEGER NOT NULL,
     version INTEGER NOT NULL,
     facts TEXT,
     deliveries TEXT
   );
   CREATE INDEX call_log_call ON call_log(call_seq);
   CREATE TABLE relay_cursor (
     one INTEGER PRIMARY KEY CHECK (one = 1),
     acked INTEGER NOT NULL
   );`,
];

/**
 * After migration 5: what an older version kept in tables of its own (the timeline's facts and
 * the device deliveries, written by the integrations) goes into the call log as history, and
 * the outbox's entries not yet acknowledged follow it, for the relay.
 */
function moveOlderLogs(db: Database.Database): void {
  const has = (table: string) =>
    db
      .prepare<[string], { one: number }>(
        "SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = ?",
      )
      .get(table) !== undefined;
  if (has("call_timeline")) {
    db.exec(`INSERT INTO call_log (call_seq, version, facts)
             SELECT c.seq, t.version, t.fact FROM call_timeline t JOIN calls c USING (call_id)
             ORDER BY t.rowid;
             DROP TABLE call_timeline;`);
  }
  if (has("device_deliveries")) {
    db.exec(`INSERT INTO call_log (call_seq, version, deliveries)
             SELECT c.seq, 0, json_group_array(json_array(d.user_id, d.device_id, d.step, d.deadline, d.at))
             FROM device_deliveries d JOIN calls c USING (call_id) GROUP BY c.seq;
             DROP TABLE device_deliveries;`);
  }
  if (has("module_schema")) {
    db.exec("DELETE FROM module_schema WHERE module IN ('timeline', 'device_deliveries')");
  }
  db.exec(`INSERT INTO relay_cursor (one, acked) SELECT 1, coalesce(max(id), 0) FROM call_log;
           INSERT INTO call_log (call_seq, version, facts)
           SELECT c.seq, o.version, o.facts FROM outbox o JOIN calls c USING (call_id)
           ORDER BY o.id;
           DROP TABLE outbox;`);
}

/** Code run right after a migration of the same index, in its transaction. */
const afterMigration: Record<number, (db: Database.Database) => void> = { 4: moveOlderLogs };

interface CallRow {
  seq: number;
  data: string;
}

interface LogRow {
  version: number;
  facts: string | null;
  deliveries: string | null;
}

/** Thrown inside a savepoint to undo a commit that turned out to conflict. */
class Conflict extends Error {
  constructor(readonly conflict: "version" | "busy") {
    super(conflict);
  }
}

interface Job {
  /**
   * Writes; pushes onto `undo` what reverts its changes to memory if the transaction fails. A
   * Conflict it throws comes before it wrote anything.
   */
  write: (undo: Array<() => void>) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A job of a batch failed in a way that may have left part of its writes: the batch is undone. */
class JobFailed extends Error {
  constructor(
    readonly index: number,
    readonly error: unknown,
  ) {
    super("a write of the batch failed");
  }
}

/** Recently written calls kept parsed for the next command (each a few KiB at most). */
const RECENT_CALLS = 10_000;

/** How often, at most, the relay's cursor is stored (a crash hands the facts since to hooks again). */
const SAVE_CURSOR_EVERY_MS = 1_000;

export class SqliteCallStore implements CallStore {
  private readonly db: Database.Database;
  private pending: Job[] = [];
  private readonly statements;
  /** The highest outbox id every hook has seen, and the one stored. */
  private acked: number;
  private savedAcked: number;
  /** Log ids are handed out here (not by SQLite), so they rise even after a purge emptied it. */
  private nextLogID: number;
  private readonly active = new ActiveMembers();
  private readonly commitTx: (change: CallCommit, undo: Array<() => void>) => void;
  private readonly runBatch: (jobs: Job[], undo: Array<() => void>) => unknown[];
  private cursorSavedAt = 0;
  private readonly releaseCheckpoints: () => Promise<void>;
  private readonly knownUsersCache = new KnownUsers();
  /** A call's commands, one at a time, whichever node of this process runs them. */
  private readonly queue = new KeyedQueue();
  /**
   * The last committed version of calls written lately, parsed: this store is its file's only
   * writer, so the copy is the stored call, and a command costs no read.
   */
  private readonly recent = new Map<string, Call>();

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // A new file gets 2 KiB pages: a decision dirties a handful of pages (the call's row, its log
    // entry, an index leaf or two), and each goes into the WAL whole, so the page size is most of
    // what a call writes. An existing file keeps the size it was made with.
    this.db.pragma("page_size = 2048");
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL survives a process crash (kill -9) without an fsync per commit.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.releaseCheckpoints = checkpointInBackground(this.db, path);
    try {
      this.migrate();
    } catch (error) {
      void this.releaseCheckpoints();
      this.db.close();
      throw error;
    }
    const db = this.db;
    this.statements = {
      insertCall: db.prepare<[string, number, number, number, string, string]>(
        "INSERT INTO calls (call_id, state, end_time, version, data, timers) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      updateCall: db.prepare<
        [number, number, number, string, string, string, number],
        { seq: number }
      >(
        `UPDATE calls SET state = ?, end_time = ?, version = ?, data = ?, timers = ?
         WHERE call_id = ? AND version = ? RETURNING seq`,
      ),
      // Every new member of a commit in one statement (a JSON array of user IDs).
      addHistory: db.prepare<[number, string]>(
        "INSERT OR IGNORE INTO call_history (user_id, call_seq) SELECT value, ? FROM json_each(?)",
      ),
      appendLog: db.prepare<[number, number, number, string | null, string | null]>(
        "INSERT INTO call_log (id, call_seq, version, facts, deliveries) VALUES (?, ?, ?, ?, ?)",
      ),
      // Deliveries alone know their call by ID; a call purged meanwhile takes none.
      appendDeliveries: db.prepare<[number, string, string]>(
        `INSERT INTO call_log (id, call_seq, version, deliveries)
         SELECT ?, seq, 0, ? FROM calls WHERE call_id = ?`,
      ),
      saveCursor: db.prepare<[number]>(
        `INSERT INTO relay_cursor (one, acked) VALUES (1, ?)
         ON CONFLICT (one) DO UPDATE SET acked = excluded.acked`,
      ),
      readOutbox: db.prepare<
        [number, number],
        { id: number; call_id: string; version: number; facts: string }
      >(
        `SELECT l.id, c.call_id, l.version, l.facts FROM call_log l JOIN calls c ON c.seq = l.call_seq
         WHERE l.id > ? AND l.facts IS NOT NULL ORDER BY l.id LIMIT ?`,
      ),
      logOf: db.prepare<[string], LogRow>(
        `SELECT l.version, l.facts, l.deliveries FROM calls c JOIN call_log l ON l.call_seq = c.seq
         WHERE c.call_id = ? ORDER BY l.id`,
      ),
      purgeLogs: db.prepare<[number]>(
        `DELETE FROM call_log WHERE call_seq IN
           (SELECT seq FROM calls WHERE state = ${CallState.Ended} AND end_time < ?)`,
      ),
      purgeHistory: db.prepare<[number]>(
        `DELETE FROM call_history WHERE call_seq IN
           (SELECT seq FROM calls WHERE state = ${CallState.Ended} AND end_time < ?)`,
      ),
      purgeCalls: db.prepare<[number]>(
        `DELETE FROM calls WHERE state = ${CallState.Ended} AND end_time < ?`,
      ),
      getCall: db.prepare<[string], CallRow>("SELECT seq, data FROM calls WHERE call_id = ?"),
      listCalls: db.prepare<[string, number, number], CallRow>(
        `SELECT c.seq, c.data FROM call_history h JOIN calls c ON c.seq = h.call_seq
         WHERE h.user_id = ? AND h.call_seq < ? ORDER BY h.call_seq DESC LIMIT ?`,
      ),
      listStarted: db.prepare<[number], CallRow>(
        `SELECT seq, data FROM calls WHERE state = ${CallState.Started} ORDER BY seq DESC LIMIT ?`,
      ),
      listRecent: db.prepare<[number], CallRow>(
        "SELECT seq, data FROM calls ORDER BY seq DESC LIMIT ?",
      ),
      startedCalls: db.prepare<[], { seq: number; call_id: string; data: string; timers: string }>(
        `SELECT seq, call_id, data, timers FROM calls WHERE state = ${CallState.Started}`,
      ),
      addUser: db.prepare<[string, number]>(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?, ?)",
      ),
      isUser: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM users WHERE user_id = ?"),
    };
    const cursor = db
      .prepare<[], { acked: number }>("SELECT acked FROM relay_cursor WHERE one = 1")
      .get();
    this.acked = cursor?.acked ?? 0;
    this.savedAcked = this.acked;
    const last = db.prepare<[], { id: number | null }>("SELECT max(id) AS id FROM call_log").get();
    this.nextLogID = Math.max(last?.id ?? 0, this.acked) + 1;
    for (const row of this.statements.startedCalls.iterate()) {
      // A row that cannot be read stays out of the index; the restart sweep reports it, and one
      // damaged call must not keep the node from starting.
      let call: Call;
      try {
        call = JSON.parse(row.data) as Call;
      } catch {
        continue;
      }
      this.active.apply(null, call, row.seq, []);
    }
    // Built once: a transaction function per commit was a measurable share of the write path.
    this.commitTx = db.transaction((change: CallCommit, undo: Array<() => void>) =>
      this.write(change, undo),
    );
    // No savepoint per job: a job's Conflict comes before its first write, and any other failure
    // undoes the whole batch, which then runs again without that job.
    this.runBatch = db.transaction((jobs: Job[], undo: Array<() => void>) =>
      jobs.map((job, index) => {
        try {
          return { ok: true, value: job.write(undo) };
        } catch (error) {
          if (error instanceof Conflict) return { ok: false, error };
          throw new JobFailed(index, error);
        }
      }),
    );
  }

  private migrate(): void {
    const applied = this.db.pragma("user_version", { simple: true }) as number;
    if (applied > sqliteMigrations.length) {
      throw new Error(`the call store's file is newer (${applied}) than this server knows`);
    }
    for (let version = applied; version < sqliteMigrations.length; version++) {
      this.db.transaction(() => {
        this.db.exec(sqliteMigrations[version] as string);
        afterMigration[version]?.(this.db);
        this.db.pragma(`user_version = ${version + 1}`);
      })();
    }
  }

  /** The body of one commit; throws Conflict to roll its savepoint back. */
  private write(change: CallCommit, undo: Array<() => void>): void {
    const { call, before, timers, facts, idleUser, deliveries } = change;
    const { statements } = this;
    const data = JSON.stringify(call);
    const due = JSON.stringify(timers.all);
    let seq: number;
    let joined: readonly string[];
    // Before any write, so a conflict leaves nothing to undo.
    if (idleUser !== undefined && this.active.acceptedElsewhere(idleUser, call.callID))
      throw new Conflict("busy");
    if (before === null) {
      seq = Number(
        statements.insertCall.run(call.callID, call.state, call.endTime, call.version, data, due)
          .lastInsertRowid,
      );
      joined = call.members.map((member) => member.userID);
    } else {
      const row = statements.updateCall.get(
        call.state,
        call.endTime,
        call.version,
        data,
        due,
        call.callID,
        before.version,
      );
      if (!row) throw new Conflict("version");
      seq = row.seq;
      const known = new Set(before.members.map((member) => member.userID));
      joined = call.members.filter((m) => !known.has(m.userID)).map((member) => member.userID);
    }
    if (joined.length > 0) statements.addHistory.run(seq, JSON.stringify(joined));
    if (facts.length > 0 || (deliveries && deliveries.length > 0)) {
      statements.appendLog.run(
        this.nextLogID++,
        seq,
        call.version,
        facts.length > 0 ? JSON.stringify(facts) : null,
        deliveries && deliveries.length > 0 ? JSON.stringify(storedDeliveries(deliveries)) : null,
      );
    }
    this.active.apply(before, call, seq, undo);
    this.remember(call, undo);
  }

  private remember(call: Call, undo: Array<() => void>): void {
    const { callID } = call;
    const previous = this.recent.get(callID);
    this.recent.delete(callID);
    if (call.state !== CallState.Ended) {
      this.recent.set(callID, call);
      if (this.recent.size > RECENT_CALLS) {
        const oldest = this.recent.keys().next().value;
        if (oldest !== undefined) this.recent.delete(oldest);
      }
    }
    undo.push(() => {
      this.recent.delete(callID);
      if (previous) this.recent.set(callID, previous);
    });
  }

  async update<T>(
    callID: string,
    decide: (call: Call | undefined) => CallDecision<T> | Promise<CallDecision<T>>,
  ): Promise<CallUpdate<T>> {
    return this.queue.run(callID, async () => {
      const decided = await decide(this.recent.get(callID) ?? (await this.getCall(callID)));
      if (!decided.change) return { value: decided.value };
      return { value: decided.value, result: await this.commit(decided.change) };
    });
  }

  async commit(change: CallCommit): Promise<CommitResult> {
    try {
      await this.inNextCommit((undo) => this.write(change, undo));
      return { ok: true };
    } catch (error) {
      if (error instanceof Conflict) return { ok: false, conflict: error.conflict };
      throw error;
    }
  }

  /**
   * Group commit: writes that arrive in the same turn of the event loop share one transaction
   * (one WAL commit), each in its own savepoint so one failing write fails alone. A write's
   * promise settles once its transaction has committed.
   */
  private inNextCommit<T>(write: (undo: Array<() => void>) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.commitPending());
    });
  }

  private commitPending(): void {
    let jobs = this.pending;
    this.pending = [];
    if (jobs.length === 0) return;
    const now = performance.now();
    if (this.acked > this.savedAcked && now - this.cursorSavedAt >= SAVE_CURSOR_EVERY_MS) {
      const upTo = this.acked;
      this.cursorSavedAt = now;
      jobs.push({
        write: () => {
          this.statements.saveCursor.run(upTo);
          this.savedAcked = Math.max(this.savedAcked, upTo);
        },
        resolve() {},
        reject() {},
      });
    }
    if (!this.db.open) {
      for (const job of jobs) job.reject(new Error("the store is closed"));
      return;
    }
    for (;;) {
      const undo: Array<() => void> = [];
      let outcomes: unknown[];
      try {
        outcomes = this.runBatch(jobs, undo);
      } catch (error) {
        // The whole transaction is gone: so are the changes its jobs made to memory.
        for (const step of undo.reverse()) step();
        if (!(error instanceof JobFailed)) {
          for (const job of jobs) job.reject(error);
          return;
        }
        jobs[error.index]?.reject(error.error);
        jobs = jobs.filter((_, index) => index !== error.index);
        continue;
      }
      jobs.forEach((job, i) => {
        const outcome = outcomes[i] as { ok: true; value: unknown } | { ok: false; error: unknown };
        if (outcome.ok) job.resolve(outcome.value);
        else job.reject(outcome.error);
      });
      return;
    }
  }

  /** Stores many new calls in one transaction: for seeding and imports, not the request path. */
  async importCalls(
    entries: ReadonlyArray<{ call: Call; timers: readonly Timer[] }>,
  ): Promise<void> {
    const undo: Array<() => void> = [];
    try {
      this.db.transaction(() => {
        for (const { call, timers } of entries) {
          this.commitTx(
            { call, before: null, timers: { set: [...timers], clear: [], all: timers }, facts: [] },
            undo,
          );
        }
      })();
    } catch (error) {
      for (const step of undo.reverse()) step();
      throw error;
    }
  }

  async getCall(callID: string): Promise<Call | undefined> {
    const row = this.statements.getCall.get(callID);
    return row ? (JSON.parse(row.data) as Call) : undefined;
  }

  async activeCallsOf(userID: string): Promise<Call[]> {
    const calls: Call[] = [];
    for (const callID of this.active.callsOf(userID)) {
      const row = this.statements.getCall.get(callID);
      if (row) calls.push(JSON.parse(row.data) as Call);
    }
    return calls;
  }

  async listCallsOf(userID: string, count: number, before: number): Promise<CallPage> {
    const rows = this.statements.listCalls.all(
      userID,
      before > 0 ? before : Number.MAX_SAFE_INTEGER,
      count + 1,
    );
    const page = rows.slice(0, count);
    const last = page.at(-1);
    return {
      calls: page.map((row) => JSON.parse(row.data) as Call),
      next: rows.length > count && last ? last.seq : 0,
    };
  }

  async listCalls(filter: CallListFilter, limit: number): Promise<Call[]> {
    const rows =
      filter === "ringing"
        ? this.ringingCalls(limit)
        : (filter === "started" ? this.statements.listStarted : this.statements.listRecent).all(
            limit,
          );
    return rows.map((row) => JSON.parse(row.data) as Call);
  }

  /** The ringing calls, from the in-memory index (a call rings while someone is pending). */
  private ringingCalls(limit: number): CallRow[] {
    const rows: CallRow[] = [];
    for (const callID of this.active.ringing(limit)) {
      const row = this.statements.getCall.get(callID);
      if (row) rows.push(row);
    }
    return rows;
  }

  async countRingingCalls(): Promise<number> {
    return this.active.ringingCount();
  }

  async startedCallIDs(): Promise<string[]> {
    return this.statements.startedCalls.all().map((row) => row.call_id);
  }

  async countStartedCalls(): Promise<StartedCallCounts> {
    return startedCallCounts(this.active.startedByMode());
  }

  async allTimers(): Promise<StoredTimer[]> {
    return this.statements.startedCalls.all().flatMap((row) =>
      (JSON.parse(row.timers) as Timer[]).map((timer) => ({
        callID: row.call_id,
        kind: timer.kind,
        userID: timer.userID,
        at: timer.at,
      })),
    );
  }

  async readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.statements.readOutbox.all(this.acked, limit).map((row) => ({
      id: row.id,
      callID: row.call_id,
      version: row.version,
      facts: JSON.parse(row.facts) as Fact[],
    }));
  }

  /**
   * One node reads this outbox, in id order, so an acknowledgement is a cursor: kept in memory
   * and stored with the next batch of writes. After a crash the facts since the last stored
   * cursor are handed to the hooks again (at least once, as promised).
   */
  async ackOutbox(ids: readonly number[]): Promise<void> {
    this.acked = Math.max(this.acked, ...ids);
  }

  async recordDeliveries(records: readonly DeliveryRecord[]): Promise<void> {
    const byCall = new Map<string, DeliveryRecord[]>();
    for (const record of records) {
      const list = byCall.get(record.callID);
      if (list) list.push(record);
      else byCall.set(record.callID, [record]);
    }
    if (byCall.size === 0) return;
    await this.inNextCommit(() => {
      for (const [callID, list] of byCall) {
        this.statements.appendDeliveries.run(
          this.nextLogID++,
          JSON.stringify(storedDeliveries(list)),
          callID,
        );
      }
    });
  }

  async logOf(callID: string): Promise<CallLog> {
    const facts: Fact[] = [];
    const stored: StoredDelivery[] = [];
    /** Versions whose facts are in: an older version's rows may hold a commit's facts twice. */
    const versions = new Set<number>();
    for (const row of this.statements.logOf.all(callID)) {
      if (row.facts !== null && !versions.has(row.version)) {
        versions.add(row.version);
        facts.push(...(JSON.parse(row.facts) as Fact[]));
      }
      if (row.deliveries !== null) stored.push(...(JSON.parse(row.deliveries) as StoredDelivery[]));
    }
    return { facts, deliveries: deliveriesOf(callID, stored) };
  }

  async purgeEndedBefore(time: number): Promise<number> {
    return this.inNextCommit(() => {
      this.statements.purgeLogs.run(time);
      this.statements.purgeHistory.run(time);
      return this.statements.purgeCalls.run(time).changes;
    });
  }

  async addUsers(userIDs: readonly string[]): Promise<void> {
    const now = Date.now();
    await this.inNextCommit(() => {
      for (const userID of userIDs) this.statements.addUser.run(userID, now);
    });
  }

  async knownUsers(userIDs: readonly string[]): Promise<Set<string>> {
    return this.knownUsersCache.filter(userIDs, (ask) =>
      ask.filter((userID) => this.statements.isUser.get(userID) !== undefined),
    );
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.commitPending();
    if (this.acked > this.savedAcked && this.db.open) {
      this.statements.saveCursor.run(this.acked);
      this.savedAcked = this.acked;
    }
    await this.releaseCheckpoints();
    if (this.db.open) this.db.close();
  }
}
