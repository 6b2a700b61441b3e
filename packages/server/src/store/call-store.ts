// The durable state behind the engine. Async even where SQLite could answer at once, so the
// PostgreSQL store fits the same shape. The database is the source of truth, and `commit` is the
// only way a decision gets into it.
import { type Call, diffTimers, type Fact, type Timer, type TimerDiff } from "@beckon/engine";
import { CallInvitationMode } from "@beckon/protocol";
import type { CallLog, DeliveryRecord } from "../timeline/call-log.js";

export interface StoredTimer extends Timer {
  callID: string;
}

export interface CallPage {
  calls: Call[];
  /** Pass back as `before` for the next page; 0 when nothing is left. */
  next: number;
}

/** Which calls an operator lists: ringing (started, someone still pending), started, or any. */
export type CallListFilter = "ringing" | "started" | "recent";

/** What a commit changes of a call's timers, and every timer it has after (a store keeps either). */
export interface CommitTimers extends TimerDiff {
  all: readonly Timer[];
}

/** The timer change of a commit that moves a call's timers from `before` to `after`. */
export function timerChange(before: readonly Timer[], after: readonly Timer[]): CommitTimers {
  return { ...diffTimers(before, after), all: after };
}

/** One decision, written atomically with what it means for the outside world. */
export interface CallCommit {
  /** The call as decided, its version already bumped. */
  call: Call;
  /**
   * The call the decision was made on; null for a new call. The commit applies only while the
   * stored version is still `before.version` (compare-and-set), and only what differs is written.
   */
  before: Call | null;
  timers: CommitTimers;
  facts: readonly Fact[];
  /**
   * Invitations sent to devices and receipts that came in since this node's previous commit of
   * the call: stored in the commit's log entry, so a timeline costs no write of its own.
   */
  deliveries?: readonly DeliveryRecord[];
  /**
   * The busy rule, checked inside the commit: this user must not be Accepted in another Started
   * call. Two invites by one user on two nodes at once cannot both pass it.
   */
  idleUser?: string;
}

export type CommitResult =
  | { ok: true }
  /** `version`: another writer changed the call first; `busy`: `idleUser` is in another call. */
  | { ok: false; conflict: "version" | "busy" };

/** What a command decided on the call `update` read: its answer, and the change, if any. */
export interface CallDecision<T> {
  value: T;
  /** What to commit; its `before` is the call `decide` was given. */
  change?: CallCommit;
}

/** What `update` did: the decision's answer and, when it changed the call, the commit's result. */
export interface CallUpdate<T> {
  value: T;
  /** Absent when the decision changed nothing (nothing was written). */
  result?: CommitResult;
}

/** One commit's facts, waiting in the outbox for the hooks. */
export interface OutboxEntry {
  /** Increasing in commit order for any one call. */
  id: number;
  callID: string;
  /** The call version the facts belong to. */
  version: number;
  facts: Fact[];
}

export interface StartedCallCounts {
  general: number;
  advanced: number;
}

export interface CallStore {
  /** Commits a new call (`before` null) or a change decided elsewhere (compare-and-set). */
  commit(change: CallCommit): Promise<CommitResult>;
  /**
   * One command on a stored call, as one transaction: the call is read and held against every
   * other writer, on every node (a row lock in PostgreSQL, a queue per call in process), while
   * `decide` runs on it (undefined: no such call), and the change it returns is committed before
   * the hold ends. A call's commands are so serialized, never decided on a stale copy and never
   * retried after a lost compare-and-set. What `decide` throws rolls back and is thrown.
   */
  update<T>(
    callID: string,
    decide: (call: Call | undefined) => CallDecision<T> | Promise<CallDecision<T>>,
  ): Promise<CallUpdate<T>>;
  getCall(callID: string): Promise<Call | undefined>;
  /** Started calls in which the user is pending or Accepted. */
  activeCallsOf(userID: string): Promise<Call[]>;
  /** Calls where the user is or was a member, newest first; `before` 0 starts from the newest. */
  listCallsOf(userID: string, count: number, before: number): Promise<CallPage>;
  /** Calls by `filter`, newest first (operators' views; through indexes, never a full scan). */
  listCalls(filter: CallListFilter, limit: number): Promise<Call[]>;
  /** How many started calls have an invitee still pending (a ring deadline is set). */
  countRingingCalls(): Promise<number>;
  /** Every started call, for the sweep after a restart. */
  startedCallIDs(): Promise<string[]>;
  /** How many calls are started and not ended, by mode: the active-calls gauge at scrape time. */
  countStartedCalls(): Promise<StartedCallCounts>;
  allTimers(): Promise<StoredTimer[]>;
  /** The oldest outbox entries not yet acknowledged, in id order. */
  readOutbox(limit: number): Promise<OutboxEntry[]>;
  /** Marks entries every hook has seen; they stay in the call's log, not in the outbox. */
  ackOutbox(ids: readonly number[]): Promise<void>;
  /**
   * Deliveries that found no commit of their call to ride on (a receipt that changed nothing,
   * the call's last commit long past): appended to their calls' logs.
   */
  recordDeliveries(records: readonly DeliveryRecord[]): Promise<void>;
  /** The call's log: every committed fact (acknowledged or not) and its deliveries. */
  logOf(callID: string): Promise<CallLog>;
  /** Deletes ended calls that ended before `time` (epoch ms), with their logs; returns how many. */
  purgeEndedBefore(time: number): Promise<number>;
  addUsers(userIDs: readonly string[]): Promise<void>;
  /** The subset of `userIDs` that have logged in or been registered. */
  knownUsers(userIDs: readonly string[]): Promise<Set<string>>;
  /** Whether the database answers (for readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Rows of (mode, count) as the gauge's two labels. */
export function startedCallCounts(rows: { mode: number; count: number }[]): StartedCallCounts {
  const counts = { general: 0, advanced: 0 };
  for (const { mode, count } of rows) {
    counts[mode === CallInvitationMode.Advanced ? "advanced" : "general"] += count;
  }
  return counts;
}
