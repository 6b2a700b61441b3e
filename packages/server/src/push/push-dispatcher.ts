// Sends claimed pushes in the background, so no provider, however slow or dead, delays a ring:
// callers enqueue and return. Transient failures are retried while the push can still matter;
// an expired registration is removed. What it holds in memory is bounded: every claimed push is
// a queued row in the store first, so past the window a push stays there (counted, logged once)
// and is taken up again when the window has room, or by another node's orphan sweep.
import type { Logger } from "pino";
import type { PushRegistrationStore, PushSend } from "./push-registration-store.js";
import type { PushProvider, PushProviderName, PushRegistration, PushResult } from "./push-types.js";

export interface PushOutcome {
  send: PushSend;
  registration: PushRegistration;
  result: PushResult;
  /** 1 for the first try. */
  attempt: number;
  /** No further try will be made. */
  final: boolean;
}

export interface PushDispatcherOptions {
  providers: readonly PushProvider[];
  registrations: PushRegistrationStore;
  clock?: () => number;
  log?: Logger;
  /** Pushes in flight at once (default 16). */
  concurrency?: number;
  /** Tries per push, the first included (default 4). */
  maxAttempts?: number;
  /** First retry delay, doubled each time (default 1 s). */
  retryBaseMs?: number;
  /** Told of every try's result (webhooks' `push.failed`, metrics, timelines). */
  onOutcome?: (outcome: PushOutcome) => void;
  /**
   * With registrations shared by several nodes: a queued push claimed longer ago than this was
   * left by a node that died, and any node takes it over; every node looks that often. Without
   * it (one node), `resume` takes over everything queued.
   */
  orphanAfterMs?: number;
  /** Pushes held in memory at most (queued, in flight, waiting to retry); default 1 000. */
  maxQueued?: number;
  /** Told of each push left in the store because the window was full. */
  onOverflow?: () => void;
}

interface Job {
  send: PushSend;
  registration: PushRegistration;
  attempt: number;
}

export class PushDispatcher {
  private readonly providers = new Map<PushProviderName, PushProvider>();
  private readonly queue: Job[] = [];
  private readonly retries = new Set<NodeJS.Timeout>();
  /** Ids of the pushes waiting for a retry (still held). */
  private readonly retrying = new Set<number>();
  private orphanSweep: NodeJS.Timeout | undefined;
  private running = 0;
  private pumpScheduled = false;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly clock: () => number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly maxQueued: number;
  /** Ids of the pushes held in memory, so a refill from the store skips them. */
  private readonly held = new Set<number>();
  /** Pushes were left in the store since the last refill; logged once per episode. */
  private overflowed = false;
  private refilling: Promise<void> | undefined;

  constructor(private readonly options: PushDispatcherOptions) {
    for (const provider of options.providers) this.providers.set(provider.name, provider);
    this.clock = options.clock ?? Date.now;
    this.concurrency = options.concurrency ?? 16;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.maxQueued = options.maxQueued ?? 1_000;
  }

  /** The names of the providers configured. */
  providerNames(): PushProviderName[] {
    return [...this.providers.keys()];
  }

  /** The providers configured, by name. */
  has(provider: PushProviderName): boolean {
    return this.providers.has(provider);
  }

  /** Pushes held in memory now (queued, in flight, waiting to retry). */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Takes a claimed push (already a queued row in the store). Past the window it is left there:
   * counted, logged once per episode, and taken up again by `refill` when the window has room.
   */
  enqueue(send: PushSend, registration: PushRegistration): void {
    if (this.closed || this.held.has(send.id)) return;
    if (this.held.size >= this.maxQueued) {
      if (!this.overflowed) {
        this.options.log?.warn(
          { held: this.held.size },
          "push window full: further pushes wait in the store and are sent as it drains",
        );
      }
      this.overflowed = true;
      this.options.onOverflow?.();
      return;
    }
    this.held.add(send.id);
    this.queue.push({ send, registration, attempt: 1 });
    this.pump();
  }

  /**
   * Takes up pushes left in the store while the window was full. One node takes every queued
   * push it does not hold; with several nodes only orphans (the sweep in `resume`), so no node
   * takes over a push another node holds.
   */
  private refill(): void {
    if (!this.overflowed || this.refilling || this.closed) return;
    if (this.held.size > this.maxQueued / 2) return;
    this.overflowed = false;
    const now = this.clock();
    const orphanAfterMs = this.options.orphanAfterMs;
    const claimedBefore = orphanAfterMs === undefined ? now + 1 : now - orphanAfterMs;
    const room = this.maxQueued - this.held.size;
    this.refilling = (async () => {
      // What this node holds comes back too (it is queued in the store): ask for that much more.
      const limit = room + this.held.size;
      const sends = await this.options.registrations.reclaimQueued(claimedBefore, now, limit);
      // A full page may have more behind it: look again as the window drains.
      if (sends.length >= limit) this.overflowed = true;
      let taken = 0;
      for (const send of sends) {
        if (this.held.has(send.id)) continue;
        if (taken >= room) {
          this.overflowed = true;
          break;
        }
        if (await this.takeUp(send)) taken += 1;
      }
    })()
      .catch((error: unknown) => {
        this.overflowed = true;
        this.options.log?.error({ err: error }, "could not take up queued pushes");
      })
      .finally(() => {
        this.refilling = undefined;
        if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  /**
   * Re-queues pushes a stopped node had claimed but not sent; returns how many. With
   * `orphanAfterMs`, keeps looking for them every `orphanAfterMs` until closed.
   */
  async resume(): Promise<number> {
    const orphanAfterMs = this.options.orphanAfterMs;
    if (orphanAfterMs !== undefined && !this.orphanSweep && !this.closed) {
      this.orphanSweep = setInterval(() => {
        this.resume().catch((error: unknown) =>
          this.options.log?.error({ err: error }, "could not take over queued pushes"),
        );
      }, orphanAfterMs);
      this.orphanSweep.unref();
    }
    const now = this.clock();
    // One node: whatever is queued was left by an earlier run of this node.
    const claimedBefore = orphanAfterMs === undefined ? now + 1 : now - orphanAfterMs;
    let count = 0;
    // No more than the window has room for; the rest wait for `refill` (or the next sweep).
    const room = this.maxQueued - this.held.size;
    if (room <= 0) {
      this.overflowed = true;
      return 0;
    }
    const sends = await this.options.registrations.reclaimQueued(claimedBefore, now, room);
    // A full page may have more behind it: `refill` takes it up as the window drains.
    if (sends.length >= room) this.overflowed = true;
    for (const send of sends) {
      if (await this.takeUp(send)) count++;
    }
    return count;
  }

  /**
   * Queues a push found in the store; one whose registration was removed meanwhile is finished
   * as expired instead. Whether it was queued.
   */
  private async takeUp(send: PushSend): Promise<boolean> {
    const registration = await this.options.registrations.get(send.registrationID);
    if (!registration) {
      await this.options.registrations.finishSend(
        send.id,
        "expired",
        0,
        "registration removed",
        this.clock(),
      );
      return false;
    }
    this.enqueue(send, registration);
    return true;
  }

  /** Resolves when nothing is queued, in flight, waiting for a retry or left in the store. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for what is in flight; pending retries are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.orphanSweep);
    for (const job of this.queue.splice(0)) this.held.delete(job.send.id);
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    for (const id of this.retrying) this.held.delete(id);
    this.retrying.clear();
    this.overflowed = false;
    await this.refilling;
    await this.idle();
    await Promise.all([...this.providers.values()].map((provider) => provider.close?.()));
  }

  private isIdle(): boolean {
    return (
      this.running === 0 &&
      this.queue.length === 0 &&
      this.retries.size === 0 &&
      !this.overflowed &&
      this.refilling === undefined
    );
  }

  /**
   * Starts one send per event-loop turn: starting a request costs a few hundred microseconds,
   * and a burst of them (a slow provider answering a full window at once) would otherwise hold
   * rings back for milliseconds.
   */
  private pump(): void {
    if (this.pumpScheduled || this.running >= this.concurrency || this.queue.length === 0) return;
    const job = this.queue.shift() as Job;
    this.running++;
    void this.run(job).finally(() => {
      this.running--;
      if (!this.retrying.has(job.send.id)) this.held.delete(job.send.id);
      this.pump();
      this.refill();
      if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
    });
    if (this.running < this.concurrency && this.queue.length > 0) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const { send, registration } = job;
    const provider = this.providers.get(registration.target.provider);
    let result: PushResult;
    // An invitation that waited in the store past its deadline would ring for a call long gone.
    if (
      send.kind === "invite" &&
      send.message.deadline > 0 &&
      send.message.deadline <= this.clock()
    ) {
      result = {
        ok: false,
        status: 0,
        reason: "the invitation's deadline passed before it could be sent",
        expired: false,
        retryable: false,
      };
    } else if (!provider) {
      result = {
        ok: false,
        status: 0,
        reason: `no ${registration.target.provider} provider is configured`,
        expired: false,
        retryable: false,
      };
    } else {
      try {
        result = await provider.send(registration, send.message);
      } catch (error) {
        result = { ok: false, status: 0, reason: String(error), expired: false, retryable: true };
      }
    }
    const now = this.clock();
    const stillUseful =
      send.kind !== "invite" || send.message.deadline === 0 || send.message.deadline > now;
    const retry =
      !result.ok &&
      result.retryable &&
      job.attempt < this.maxAttempts &&
      stillUseful &&
      !this.closed;
    try {
      if (result.ok) {
        await this.options.registrations.finishSend(send.id, "sent", result.status, "", now);
      } else if (result.expired) {
        await this.options.registrations.finishSend(
          send.id,
          "expired",
          result.status,
          result.reason,
          now,
        );
        await this.options.registrations.remove(registration.id);
      } else if (!retry) {
        await this.options.registrations.finishSend(
          send.id,
          "failed",
          result.status,
          result.reason,
          now,
        );
      }
    } catch (error) {
      this.options.log?.error({ err: error, sendID: send.id }, "could not record a push result");
    }
    if (!result.ok) {
      this.options.log?.warn(
        {
          callID: send.callID,
          userID: send.userID,
          provider: registration.target.provider,
          status: result.status,
          reason: result.reason,
        },
        "push refused",
      );
    }
    try {
      this.options.onOutcome?.({ send, registration, result, attempt: job.attempt, final: !retry });
    } catch (error) {
      this.options.log?.error({ err: error }, "a push outcome listener failed");
    }
    if (retry) {
      const delay = this.retryBaseMs * 2 ** (job.attempt - 1);
      this.retrying.add(send.id);
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        this.retrying.delete(send.id);
        this.queue.push({ ...job, attempt: job.attempt + 1 });
        this.pump();
      }, delay);
      timer.unref();
      this.retries.add(timer);
    }
  }
}
