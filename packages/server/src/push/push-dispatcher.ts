// Sends claimed pushes in the background, so no provider, however slow or dead, delays a ring:
// callers enqueue and return. Transient failures are retried while the push can still matter;
// an expired registration is removed.
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
  private orphanSweep: NodeJS.Timeout | undefined;
  private running = 0;
  private pumpScheduled = false;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly clock: () => number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;

  constructor(private readonly options: PushDispatcherOptions) {
    for (const provider of options.providers) this.providers.set(provider.name, provider);
    this.clock = options.clock ?? Date.now;
    this.concurrency = options.concurrency ?? 16;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
  }

  /** The names of the providers configured. */
  providerNames(): PushProviderName[] {
    return [...this.providers.keys()];
  }

  /** The providers configured, by name. */
  has(provider: PushProviderName): boolean {
    return this.providers.has(provider);
  }

  enqueue(send: PushSend, registration: PushRegistration): void {
    if (this.closed) return;
    this.queue.push({ send, registration, attempt: 1 });
    this.pump();
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
    for (const send of await this.options.registrations.reclaimQueued(claimedBefore, now)) {
      const registration = await this.options.registrations.get(send.registrationID);
      if (!registration) {
        await this.options.registrations.finishSend(
          send.id,
          "expired",
          0,
          "registration removed",
          this.clock(),
        );
        continue;
      }
      this.enqueue(send, registration);
      count++;
    }
    return count;
  }

  /** Resolves when nothing is queued, in flight or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for what is in flight; pending retries are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.orphanSweep);
    this.queue.length = 0;
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    await this.idle();
    await Promise.all([...this.providers.values()].map((provider) => provider.close?.()));
  }

  private isIdle(): boolean {
    return this.running === 0 && this.queue.length === 0 && this.retries.size === 0;
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
      this.pump();
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
    if (!provider) {
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
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        this.queue.push({ ...job, attempt: job.attempt + 1 });
        this.pump();
      }, delay);
      timer.unref();
      this.retries.add(timer);
    }
  }
}
