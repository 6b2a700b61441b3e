// The durable state behind the engine. Async even where SQLite could answer at once, so the
// PostgreSQL store fits the same shape. The database is the source of truth.
import type { Call, Timer } from "@beckon/engine";

export interface StoredTimer extends Timer {
  callID: string;
}

export interface CallPage {
  calls: Call[];
  /** Pass back as `before` for the next page; 0 when nothing is left. */
  next: number;
}

export interface CallStore {
  /** Stores a new call and the timers it needs, in one transaction. */
  insertCall(call: Call, timers: readonly Timer[]): Promise<void>;
  /**
   * Replaces a call and its timers if the stored version is still `expectedVersion`.
   * Returns false when another writer got there first (the caller reloads and decides again).
   */
  updateCall(call: Call, expectedVersion: number, timers: readonly Timer[]): Promise<boolean>;
  getCall(callID: string): Promise<Call | undefined>;
  /** Started calls in which the user is pending or Accepted. */
  activeCallsOf(userID: string): Promise<Call[]>;
  /** Calls where the user is or was a member, newest first; `before` 0 starts from the newest. */
  listCallsOf(userID: string, count: number, before: number): Promise<CallPage>;
  /** Every started call, for the sweep after a restart. */
  startedCallIDs(): Promise<string[]>;
  allTimers(): Promise<StoredTimer[]>;
  /** Deletes ended calls that ended before `time` (epoch ms); returns how many. */
  purgeEndedBefore(time: number): Promise<number>;
  addUsers(userIDs: readonly string[]): Promise<void>;
  /** The subset of `userIDs` that have logged in or been registered. */
  knownUsers(userIDs: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}
