// Deadlines for a cluster: every node claims due timers from PostgreSQL with a lease, so each
// fires on exactly one live node, and a node that dies mid-way hands its claims on when the
// lease runs out. Local commits hint at their timers (so those fire on time); timers set by
// other nodes are seen by a short poll.
import type { StoredTimer } from "../store/call-store.js";
import type { PostgresCallStore } from "../store/postgres-call-store.js";
import type { DueHandler, TimerSource } from "./timer-source.js";

export interface PostgresTimerOptions {
  /** This node's name in the lease (any string unique among live nodes). */
  nodeID: string;
  clock?: () => number;
  /** How long a claim keeps a timer from the other nodes; longer than any handler runs. */
  leaseMs?: number;
  /** How often to look for timers this node was not told about (set elsewhere, or orphaned). */
  pollMs?: number;
  /** Timers claimed per round trip. */
  batch?: number;
  /** Where a failing claim or handler is reported; the timer is retried after its lease. */
  onError?: (error: unknown) => void;
}

const MAX_NODE_DELAY_MS = 2 ** 31 - 1;
/** Pause before claiming again when a timer looks due but another node holds its row. */
const BUSY_RETRY_MS = 10;
const COUNT_EVERY_ROUNDS = 30;

export class PostgresTimerSource implements TimerSource {
  private onDue: DueHandler | null = null;
  private handle: NodeJS.Timeout | null = null;
  private armedFor = Number.POSITIVE_INFINITY;
  private running = false;
  private again = false;
  private known = 0;
  private rounds = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly clock: () => number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly batch: number;

  constructor(
    private readonly store: PostgresCallStore,
    private readonly options: PostgresTimerOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.batch = options.batch ?? 100;
    if (this.leaseMs <= 0 || this.pollMs <= 0 || this.batch <= 0)
      throw new Error("leaseMs, pollMs and batch must be positive");
  }

  async start(onDue: DueHandler): Promise<number> {
    this.onDue = onDue;
    this.known = await this.store.countTimers();
    this.arm(0);
    return this.known;
  }

  changed(_callID: string, timers: readonly StoredTimer[]): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const timer of timers) earliest = Math.min(earliest, timer.at);
    if (earliest < this.armedFor) this.arm(Math.max(earliest - this.clock(), 0));
  }

  get pending(): number {
    return this.known;
  }

  stop(onDue: DueHandler): void {
    if (this.onDue !== onDue) return;
    this.onDue = null;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  /** Resolves once the handlers already running have settled (for an orderly shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private arm(delay: number): void {
    if (!this.onDue) return;
    const at = this.clock() + delay;
    if (this.handle && at >= this.armedFor) return;
    if (this.handle) clearTimeout(this.handle);
    this.armedFor = at;
    this.handle = setTimeout(() => this.run(), Math.min(delay, MAX_NODE_DELAY_MS));
    // Timers never keep a process alive.
    this.handle.unref();
  }

  private run(): void {
    this.handle = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const round = this.claimRound()
      .catch((error: unknown) => {
        if (this.onDue) this.options.onError?.(error);
        return this.pollMs;
      })
      .then((delay) => {
        this.running = false;
        if (this.again) {
          this.again = false;
          delay = 0;
        }
        this.arm(delay);
      });
    this.track(round);
  }

  /** Claims and hands on what is due; returns how long to wait before the next round. */
  private async claimRound(): Promise<number> {
    for (;;) {
      const onDue = this.onDue;
      if (!onDue) return this.pollMs;
      const now = this.clock();
      const claimed = await this.store.claimDueTimers(
        now,
        now + this.leaseMs,
        this.options.nodeID,
        this.batch,
      );
      for (const timer of claimed) this.track(this.fireClaimed(onDue, timer));
      if (claimed.length < this.batch) break;
    }
    // The full count is kept fresh only now and then: it is a gauge, not worth a scan a round.
    if (++this.rounds % COUNT_EVERY_ROUNDS === 0) this.known = await this.store.countTimers();
    const now = this.clock();
    const next = await this.store.nextTimer(now);
    if (next === null) return this.pollMs;
    const wait = next - now;
    return Math.min(wait > 0 ? wait : BUSY_RETRY_MS, this.pollMs);
  }

  private async fireClaimed(onDue: DueHandler, timer: StoredTimer): Promise<void> {
    const { callID, kind, userID, at } = timer;
    try {
      await onDue({ callID, kind, userID, at });
      await this.store.finishTimer(timer, this.options.nodeID);
    } catch (error) {
      // The claim stays until its lease ends; then this or another node tries again.
      if (this.onDue) this.options.onError?.(error);
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}
