// Hands committed facts to the hooks: in outbox order (so in version order per call), at least
// once. An entry is acknowledged only after every hook took every fact in it; a hook that throws
// gets the entry again after a pause, so hooks key on `meta.id` where acting twice would matter.
import type { Logger } from "pino";
import type { CallStore, OutboxEntry } from "../store/call-store.js";
import type { Hook } from "./hook.js";

const BATCH = 256;
const RETRY_MS = 1_000;
/**
 * Facts wait this long after a commit, so one round (a read and an acknowledgement) carries
 * the facts of many commits instead of adding a round per commit to the write path.
 */
const GATHER_MS = 5;
/** The longest a hook handed facts one by one works before the event loop gets a turn. */
const SLICE_MS = 1;

export class OutboxRelay {
  private running: Promise<void> | null = null;
  private again = false;
  private gathering: NodeJS.Timeout | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly store: CallStore,
    private readonly hooks: readonly Hook[],
    private readonly log: Logger,
    /** Another node's commits reach this store too; a slow poll picks them up. */
    pollMs = 1_000,
    /** How long facts wait after a commit, so one round carries many commits. */
    private readonly gatherMs = GATHER_MS,
  ) {
    this.poll = setInterval(() => this.kick(), pollMs);
    this.poll.unref();
  }

  /** Something was committed: run soon (coalesced). */
  kick(): void {
    if (this.stopped || this.gathering) return;
    this.gathering = setTimeout(() => {
      this.gathering = null;
      this.run();
    }, this.gatherMs);
  }

  /**
   * Runs a round now and resolves once the outbox is drained as far as the hooks allow: what was
   * committed before the call has reached them (unless a hook fails), so a read after it sees it.
   */
  async flush(): Promise<void> {
    if (this.stopped) return;
    if (this.gathering) {
      clearTimeout(this.gathering);
      this.gathering = null;
    }
    // A round under way may have read the outbox before the latest commit: one more after it,
    // and no further (under load, rounds follow each other without end).
    const before = this.running;
    this.run();
    if (before) await before.catch(() => undefined);
    await this.running;
  }

  private run(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => {
        // The store is unreachable (a database restart): the facts wait in the outbox.
        this.log.warn({ err: error }, "the outbox could not be read; retrying");
        this.retryLater();
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const entries = await this.store.readOutbox(BATCH);
      if (entries.length === 0) return;
      try {
        await this.deliver(entries);
      } catch (error) {
        this.log.warn({ err: error }, "a hook failed; its facts will be delivered again");
        this.retryLater();
        return;
      }
      await this.store.ackOutbox(entries.map((entry) => entry.id));
      if (entries.length < BATCH) return;
    }
  }

  private retryLater(): void {
    if (this.stopped) return;
    this.retry ??= setTimeout(() => {
      this.retry = null;
      this.kick();
    }, RETRY_MS);
    this.retry.unref();
  }

  /** Every fact of the round to every hook, hook by hook, each in commit order. */
  private async deliver(entries: readonly OutboxEntry[]): Promise<void> {
    const batch = entries.flatMap((entry) =>
      entry.facts.map((fact, index) => ({
        fact,
        meta: { id: `${entry.callID}:${entry.version}:${index}`, version: entry.version },
      })),
    );
    for (const hook of this.hooks) {
      // A turn of the event loop between hooks: hooks that work synchronously (SQLite) must not
      // hold rings and replies back for a whole round.
      await new Promise((resolve) => setImmediate(resolve));
      if (hook.onFacts) await hook.onFacts(batch);
      else if (hook.onFact) {
        let since = performance.now();
        for (const { fact, meta } of batch) {
          await hook.onFact(fact, meta);
          // A hook over a synchronous store never yields by itself: a turn every millisecond.
          if (performance.now() - since > SLICE_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            since = performance.now();
          }
        }
      }
    }
  }

  /** Stops polling and waits for the current round. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    if (this.retry) clearTimeout(this.retry);
    if (this.gathering) clearTimeout(this.gathering);
    await this.running?.catch(() => undefined);
  }
}
