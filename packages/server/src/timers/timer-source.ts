// Where due deadlines come from: a local heap over the store's timers (single node), or claims
// with leases in a shared database (cluster). Either way a timer may fire late or twice; the
// engine re-derives timers from state, so a stale fire is a no-op.
import type { StoredTimer } from "../store/call-store.js";

export type DueHandler = (timer: StoredTimer) => Promise<void>;

export interface TimerSource {
  /** Loads what is pending and starts handing due timers to `onDue`; resolves with the count. */
  start(onDue: DueHandler): Promise<number>;
  /** A call's timers after a commit (a hint: the store already holds them). */
  changed(callID: string, timers: readonly StoredTimer[]): void;
  /** How many timers this source knows to be pending. */
  readonly pending: number;
  stop(onDue: DueHandler): void;
}
