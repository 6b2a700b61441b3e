// Arms one Node timer for the earliest due call timer. The store holds the timers durably; this
// is the in-memory index over them, rebuilt on start. Replaced timers are dropped lazily.
import type { Timer } from "@beckon/engine";
import type { StoredTimer } from "../store/call-store.js";
import { MinHeap } from "./min-heap.js";

interface Entry extends StoredTimer {
  key: string;
}

const MAX_NODE_DELAY_MS = 2 ** 31 - 1;

function keyOf(callID: string, timer: Timer): string {
  return `${timer.kind}\u0000${timer.userID}\u0000${timer.at}\u0000${callID}`;
}

export class TimerScheduler {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at);
  /** The live timer keys of each call; heap entries not in here are stale. */
  private readonly live = new Map<string, Set<string>>();
  private handle: NodeJS.Timeout | null = null;
  private armedFor = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly fire: (timer: StoredTimer) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Makes `timers` the call's whole set of pending timers. */
  replace(callID: string, timers: readonly Timer[]): void {
    if (timers.length === 0) {
      this.live.delete(callID);
      return;
    }
    const keys = new Set<string>();
    const previous = this.live.get(callID);
    for (const timer of timers) {
      const key = keyOf(callID, timer);
      keys.add(key);
      if (!previous?.has(key)) this.heap.push({ ...timer, callID, key });
    }
    this.live.set(callID, keys);
    this.arm();
  }

  /** Number of calls with pending timers (a gauge for metrics and tests). */
  get pendingCalls(): number {
    return this.live.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }

  private arm(): void {
    const next = this.nextLive();
    if (this.stopped || !next || next.at >= this.armedFor) return;
    if (this.handle) clearTimeout(this.handle);
    this.armedFor = next.at;
    const delay = Math.min(Math.max(next.at - this.clock(), 0), MAX_NODE_DELAY_MS);
    this.handle = setTimeout(() => this.runDue(), delay);
    this.handle.unref();
  }

  private nextLive(): Entry | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (!top || this.live.get(top.callID)?.has(top.key)) return top;
      this.heap.pop();
    }
  }

  private runDue(): void {
    this.handle = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock();
    for (let next = this.nextLive(); next && next.at <= now; next = this.nextLive()) {
      this.heap.pop();
      const keys = this.live.get(next.callID);
      keys?.delete(next.key);
      if (keys?.size === 0) this.live.delete(next.callID);
      this.fire(next);
    }
    this.arm();
  }
}
