// The embedded single-node store: SQLite in WAL mode through better-sqlite3.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Call, Fact, Member, Timer, TimerKind } from "@beckon/engine";
import { CallState, CallUserState, isActive } from "@beckon/protocol";
import Database from "better-sqlite3";
import { checkpointInBackground } from "../sqlite/checkpointer.js";
import {
  type CallCommit,
  type CallListFilter,
  type CallPage,
  type CallStore,
  type CommitResult,
  type OutboxEntry,
  type StartedCallCounts,
  type StoredTimer,
  startedCallCounts,
} from "./call-store.js";
import { KnownUsers } from "./known-users.js";

/** Schema versions, applied in order; `PRAGMA user_version` says how many a file has. */
const migrations = [
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
];

interface CallRow {
  seq: number;
  data: string;
}

/** The two indexed facts about a membership: in a Started call, active / Accepted. */
function flagsOf(call: Call, member: Member): { active: number; accepted: number } {
  const started = call.state === CallState.Started;
  return {
    active: started && isActive(member.state) ? 1 : 0,
    accepted: started && member.state === CallUserState.Accepted ? 1 : 0,
  };
}

/** Thrown inside a savepoint to undo a commit that turned out to conflict. */
class Conflict extends Error {
  constructor(readonly conflict: "version" | "busy") {
    super(conflict);
  }
}

export class SqliteCallStore implements CallStore {
  private readonly db: Database.Database;
  private pending: Array<{
    write: () => unknown;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }> = [];
  private readonly statements;
  /** The highest outbox id every hook has seen. */
  private acked = 0;
  /** The outbox rows up to here are already deleted. */
  private pruned = 0;
  private readonly commitTx: (change: CallCommit) => void;
  private readonly runBatch: (jobs: SqliteCallStore["pending"]) => unknown[];
  private readonly releaseCheckpoints: () => Promise<void>;
  private readonly knownUsersCache = new KnownUsers();

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
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
      insertCall: db.prepare<[string, number, number, number, string]>(
        "INSERT INTO calls (call_id, state, end_time, version, data) VALUES (?, ?, ?, ?, ?)",
      ),
      updateCall: db.prepare<[number, number, number, string, string, number], { seq: number }>(
        `UPDATE calls SET state = ?, end_time = ?, version = ?, data = ?
         WHERE call_id = ? AND version = ? RETURNING seq`,
      ),
      purge: db.prepare<[number]>(
        `DELETE FROM calls WHERE state = ${CallState.Ended} AND end_time < ?`,
      ),
      getCall: db.prepare<[string], CallRow>("SELECT seq, data FROM calls WHERE call_id = ?"),
      insertMember: db.prepare<[string, number, number, number]>(
        "INSERT INTO call_members (user_id, call_seq, active, accepted) VALUES (?, ?, ?, ?)",
      ),
      updateMember: db.prepare<[number, number, string, number]>(
        "UPDATE call_members SET active = ?, accepted = ? WHERE user_id = ? AND call_seq = ?",
      ),
      busy: db.prepare<[string, number], { one: number }>(
        "SELECT 1 AS one FROM call_members WHERE user_id = ? AND accepted = 1 AND call_seq != ? LIMIT 1",
      ),
      setTimer: db.prepare<[number, string, string, number]>(
        `INSERT INTO timers (call_seq, kind, user_id, due_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (call_seq, kind, user_id) DO UPDATE SET due_at = excluded.due_at`,
      ),
      clearTimer: db.prepare<[number, string, string]>(
        "DELETE FROM timers WHERE call_seq = ? AND kind = ? AND user_id = ?",
      ),
      appendOutbox: db.prepare<[string, number, string]>(
        "INSERT INTO outbox (call_id, version, facts) VALUES (?, ?, ?)",
      ),
      readOutbox: db.prepare<
        [number, number],
        { id: number; call_id: string; version: number; facts: string }
      >("SELECT id, call_id, version, facts FROM outbox WHERE id > ? ORDER BY id LIMIT ?"),
      pruneOutbox: db.prepare<[number]>("DELETE FROM outbox WHERE id <= ?"),
      activeCalls: db.prepare<[string], CallRow>(
        `SELECT c.seq, c.data FROM call_members m JOIN calls c ON c.seq = m.call_seq
         WHERE m.user_id = ? AND m.active = 1`,
      ),
      listCalls: db.prepare<[string, number, number], CallRow>(
        `SELECT c.seq, c.data FROM call_members m JOIN calls c ON c.seq = m.call_seq
         WHERE m.user_id = ? AND m.call_seq < ? ORDER BY m.call_seq DESC LIMIT ?`,
      ),
      listRinging: db.prepare<[number], CallRow>(
        `SELECT seq, data FROM calls WHERE seq IN
           (SELECT DISTINCT call_seq FROM timers WHERE kind = 'deadline')
         ORDER BY seq DESC LIMIT ?`,
      ),
      listStarted: db.prepare<[number], CallRow>(
        `SELECT seq, data FROM calls WHERE state = ${CallState.Started} ORDER BY seq DESC LIMIT ?`,
      ),
      listRecent: db.prepare<[number], CallRow>(
        "SELECT seq, data FROM calls ORDER BY seq DESC LIMIT ?",
      ),
      countRinging: db.prepare<[], { n: number }>(
        "SELECT count(DISTINCT call_seq) AS n FROM timers WHERE kind = 'deadline'",
      ),
      startedCalls: db.prepare<[], { call_id: string }>(
        `SELECT call_id FROM calls WHERE state = ${CallState.Started}`,
      ),
      countStarted: db.prepare<[], { mode: number; count: number }>(
        `SELECT json_extract(data, '$.mode') AS mode, count(*) AS count FROM calls
         WHERE state = ${CallState.Started} GROUP BY mode`,
      ),
      allTimers: db.prepare<[], { call_id: string; kind: string; user_id: string; due_at: number }>(
        `SELECT c.call_id, t.kind, t.user_id, t.due_at FROM timers t
         JOIN calls c ON c.seq = t.call_seq`,
      ),
      addUser: db.prepare<[string, number]>(
        "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?, ?)",
      ),
      isUser: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM users WHERE user_id = ?"),
    };
    // Built once: a transaction function per commit was a measurable share of the write path.
    this.commitTx = db.transaction((change: CallCommit) => this.write(change));
    this.runBatch = db.transaction((jobs: SqliteCallStore["pending"]) =>
      jobs.map((job) => {
        try {
          return { ok: true, value: job.write() };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  private migrate(): void {
    const applied = this.db.pragma("user_version", { simple: true }) as number;
    for (let version = applied; version < migrations.length; version++) {
      this.db.transaction(() => {
        this.db.exec(migrations[version] as string);
        this.db.pragma(`user_version = ${version + 1}`);
      })();
    }
  }

  /** The body of one commit; throws Conflict to roll its savepoint back. */
  private write({ call, before, timers, facts, idleUser }: CallCommit): void {
    const { statements } = this;
    const data = JSON.stringify(call);
    let seq: number;
    if (before === null) {
      if (idleUser !== undefined && statements.busy.get(idleUser, -1)) throw new Conflict("busy");
      seq = Number(
        statements.insertCall.run(call.callID, call.state, call.endTime, call.version, data)
          .lastInsertRowid,
      );
    } else {
      const row = statements.updateCall.get(
        call.state,
        call.endTime,
        call.version,
        data,
        call.callID,
        before.version,
      );
      if (!row) throw new Conflict("version");
      seq = row.seq;
      if (idleUser !== undefined && statements.busy.get(idleUser, seq)) throw new Conflict("busy");
    }
    this.writeMembers(seq, before, call);
    for (const timer of timers.clear) statements.clearTimer.run(seq, timer.kind, timer.userID);
    for (const timer of timers.set)
      statements.setTimer.run(seq, timer.kind, timer.userID, timer.at);
    if (facts.length > 0)
      statements.appendOutbox.run(call.callID, call.version, JSON.stringify(facts));
  }

  /** Member rows change in place, and only those whose indexed flags moved. */
  private writeMembers(seq: number, before: Call | null, call: Call): void {
    const { statements } = this;
    const previous = new Map(before?.members.map((member) => [member.userID, member]));
    for (const member of call.members) {
      const now = flagsOf(call, member);
      const old = previous.get(member.userID);
      if (old === undefined || before === null) {
        statements.insertMember.run(member.userID, seq, now.active, now.accepted);
        continue;
      }
      const then = flagsOf(before, old);
      if (then.active !== now.active || then.accepted !== now.accepted) {
        statements.updateMember.run(now.active, now.accepted, member.userID, seq);
      }
    }
  }

  async commit(change: CallCommit): Promise<CommitResult> {
    try {
      await this.inNextCommit(() => this.commitTx(change));
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
  private inNextCommit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.commitPending());
    });
  }

  private commitPending(): void {
    const jobs = this.pending;
    this.pending = [];
    if (jobs.length === 0) return;
    if (this.acked > this.pruned) {
      const upTo = this.acked;
      this.pruned = upTo;
      jobs.push({ write: () => this.statements.pruneOutbox.run(upTo), resolve() {}, reject() {} });
    }
    if (!this.db.open) {
      for (const job of jobs) job.reject(new Error("the store is closed"));
      return;
    }
    let outcomes: unknown[];
    try {
      outcomes = this.runBatch(jobs);
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i] as { ok: true; value: unknown } | { ok: false; error: unknown };
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  /** Stores many new calls in one transaction: for seeding and imports, not the request path. */
  async importCalls(
    entries: ReadonlyArray<{ call: Call; timers: readonly Timer[] }>,
  ): Promise<void> {
    this.db.transaction(() => {
      for (const { call, timers } of entries) {
        this.commitTx({ call, before: null, timers: { set: [...timers], clear: [] }, facts: [] });
      }
    })();
  }

  async getCall(callID: string): Promise<Call | undefined> {
    const row = this.statements.getCall.get(callID);
    return row ? (JSON.parse(row.data) as Call) : undefined;
  }

  async activeCallsOf(userID: string): Promise<Call[]> {
    return this.statements.activeCalls.all(userID).map((row) => JSON.parse(row.data) as Call);
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
    const statement =
      filter === "ringing"
        ? this.statements.listRinging
        : filter === "started"
          ? this.statements.listStarted
          : this.statements.listRecent;
    return statement.all(limit).map((row) => JSON.parse(row.data) as Call);
  }

  async countRingingCalls(): Promise<number> {
    return this.statements.countRinging.get()?.n ?? 0;
  }

  async startedCallIDs(): Promise<string[]> {
    return this.statements.startedCalls.all().map((row) => row.call_id);
  }

  async countStartedCalls(): Promise<StartedCallCounts> {
    return startedCallCounts(this.statements.countStarted.all());
  }

  async allTimers(): Promise<StoredTimer[]> {
    return this.statements.allTimers.all().map((row) => ({
      callID: row.call_id,
      kind: row.kind as TimerKind,
      userID: row.user_id,
      at: row.due_at,
    }));
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
   * One node reads this outbox, in id order, so an acknowledgement is a cursor kept in memory;
   * the rows behind it are deleted with the next batch of writes. After a crash the facts since
   * the last such delete are handed to the hooks again (at least once, as promised).
   */
  async ackOutbox(ids: readonly number[]): Promise<void> {
    this.acked = Math.max(this.acked, ...ids);
  }

  async purgeEndedBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
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
    if (this.acked > this.pruned && this.pending.length === 0 && this.db.open) {
      this.statements.pruneOutbox.run(this.acked);
    }
    this.commitPending();
    await this.releaseCheckpoints();
    if (this.db.open) this.db.close();
  }
}
