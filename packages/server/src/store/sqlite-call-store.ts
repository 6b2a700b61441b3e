// The embedded single-node store: SQLite in WAL mode through better-sqlite3.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Call, Timer, TimerKind } from "@beckon/engine";
import { CallState, isActive } from "@beckon/protocol";
import Database from "better-sqlite3";
import type { CallPage, CallStore, StoredTimer } from "./call-store.js";

const schema = `
CREATE TABLE IF NOT EXISTS users (
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
-- Every save rewrites a call's member rows; without this that is a scan of all members.
CREATE INDEX IF NOT EXISTS call_members_call ON call_members(call_seq);
CREATE TABLE IF NOT EXISTS timers (
  call_seq INTEGER NOT NULL REFERENCES calls(seq) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  user_id TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  PRIMARY KEY (call_seq, kind, user_id)
);
`;

interface CallRow {
  seq: number;
  data: string;
}

export class SqliteCallStore implements CallStore {
  private readonly db: Database.Database;
  private pending: Array<{
    write: () => unknown;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }> = [];
  private readonly statements;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL survives a process crash (kill -9) without an fsync per commit.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.exec(schema);
    const db = this.db;
    this.statements = {
      insertCall: db.prepare<[string, number, number, number, string]>(
        "INSERT INTO calls (call_id, state, end_time, version, data) VALUES (?, ?, ?, ?, ?)",
      ),
      updateCall: db.prepare<[number, number, number, string, string, number]>(
        `UPDATE calls SET state = ?, end_time = ?, version = ?, data = ?
         WHERE call_id = ? AND version = ?`,
      ),
      purge: db.prepare<[number]>(
        `DELETE FROM calls WHERE state = ${CallState.Ended} AND end_time < ?`,
      ),
      seqOf: db.prepare<[string], { seq: number }>("SELECT seq FROM calls WHERE call_id = ?"),
      getCall: db.prepare<[string], CallRow>("SELECT seq, data FROM calls WHERE call_id = ?"),
      deleteMembers: db.prepare<[number]>("DELETE FROM call_members WHERE call_seq = ?"),
      insertMember: db.prepare<[string, number, number]>(
        "INSERT INTO call_members (user_id, call_seq, active) VALUES (?, ?, ?)",
      ),
      deleteTimers: db.prepare<[number]>("DELETE FROM timers WHERE call_seq = ?"),
      insertTimer: db.prepare<[number, string, string, number]>(
        "INSERT INTO timers (call_seq, kind, user_id, due_at) VALUES (?, ?, ?, ?)",
      ),
      activeCalls: db.prepare<[string], CallRow>(
        `SELECT c.seq, c.data FROM call_members m JOIN calls c ON c.seq = m.call_seq
         WHERE m.user_id = ? AND m.active = 1`,
      ),
      listCalls: db.prepare<[string, number, number], CallRow>(
        `SELECT c.seq, c.data FROM call_members m JOIN calls c ON c.seq = m.call_seq
         WHERE m.user_id = ? AND m.call_seq < ? ORDER BY m.call_seq DESC LIMIT ?`,
      ),
      startedCalls: db.prepare<[], { call_id: string }>(
        `SELECT call_id FROM calls WHERE state = ${CallState.Started}`,
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
  }

  private writeIndexes(seq: number, call: Call, timers: readonly Timer[]): void {
    const { statements } = this;
    statements.deleteMembers.run(seq);
    const started = call.state === CallState.Started;
    for (const member of call.members) {
      statements.insertMember.run(member.userID, seq, started && isActive(member.state) ? 1 : 0);
    }
    statements.deleteTimers.run(seq);
    for (const timer of timers) {
      statements.insertTimer.run(seq, timer.kind, timer.userID, timer.at);
    }
  }

  private readonly insertTx = (call: Call, timers: readonly Timer[]) =>
    this.db.transaction(() => {
      const { lastInsertRowid } = this.statements.insertCall.run(
        call.callID,
        call.state,
        call.endTime,
        call.version,
        JSON.stringify(call),
      );
      this.writeIndexes(Number(lastInsertRowid), call, timers);
    })();

  private readonly updateTx = (call: Call, expectedVersion: number, timers: readonly Timer[]) =>
    this.db.transaction((): boolean => {
      const { changes } = this.statements.updateCall.run(
        call.state,
        call.endTime,
        call.version,
        JSON.stringify(call),
        call.callID,
        expectedVersion,
      );
      if (changes === 0) return false;
      const row = this.statements.seqOf.get(call.callID);
      if (row) this.writeIndexes(row.seq, call, timers);
      return true;
    })();

  async insertCall(call: Call, timers: readonly Timer[]): Promise<void> {
    await this.inNextCommit(() => this.insertTx(call, timers));
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
    if (jobs.length === 0 || !this.db.open) {
      for (const job of jobs) job.reject(new Error("the store is closed"));
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const job of jobs) {
          try {
            outcomes.push({ ok: true, value: job.write() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      })();
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) job.resolve(outcome.value);
      else job.reject(outcome?.error);
    });
  }

  /** Stores many new calls in one transaction: for seeding and imports, not the request path. */
  async importCalls(
    entries: ReadonlyArray<{ call: Call; timers: readonly Timer[] }>,
  ): Promise<void> {
    this.db.transaction(() => {
      for (const { call, timers } of entries) this.insertTx(call, timers);
    })();
  }

  async updateCall(
    call: Call,
    expectedVersion: number,
    timers: readonly Timer[],
  ): Promise<boolean> {
    return this.inNextCommit(() => this.updateTx(call, expectedVersion, timers));
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

  async startedCallIDs(): Promise<string[]> {
    return this.statements.startedCalls.all().map((row) => row.call_id);
  }

  async allTimers(): Promise<StoredTimer[]> {
    return this.statements.allTimers.all().map((row) => ({
      callID: row.call_id,
      kind: row.kind as TimerKind,
      userID: row.user_id,
      at: row.due_at,
    }));
  }

  async purgeEndedBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
  }

  async addUsers(userIDs: readonly string[]): Promise<void> {
    const now = Date.now();
    this.db.transaction(() => {
      for (const userID of userIDs) this.statements.addUser.run(userID, now);
    })();
  }

  async knownUsers(userIDs: readonly string[]): Promise<Set<string>> {
    return new Set(userIDs.filter((userID) => this.statements.isUser.get(userID) !== undefined));
  }

  async close(): Promise<void> {
    this.commitPending();
    if (this.db.open) this.db.close();
  }
}
