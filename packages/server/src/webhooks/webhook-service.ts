// Webhooks from the outbox: the hook turns each committed fact into durable deliveries (and
// returns), a worker sends them signed per Standard Webhooks and retries with exponential
// backoff for more than a day before a delivery goes to the dead-letter list.
import type { Fact } from "@beckon/engine";
import type { Logger } from "pino";
import { Webhook } from "standardwebhooks";
import type { FactMeta, Hook } from "../hooks/hook.js";
import { payloadOfFact, type WebhookEventType, type WebhookPayload } from "./webhook-events.js";
import type { WebhookDelivery, WebhookEndpoint, WebhookStore } from "./webhook-store.js";

/**
 * Delays before each retry: SPEC §8's 2, 4, 8, 16, 32 s, doubling on to about two hours, then
 * every four hours: 18 retries over about 24.5 h.
 */
export const defaultRetryDelaysMs: readonly number[] = [
  ...Array.from({ length: 13 }, (_, index) => 2_000 * 2 ** index),
  ...Array.from({ length: 5 }, () => 4 * 3_600_000),
];

/** Facts queued per transaction. */
const ENQUEUE_SLICE = 128;

/** How long an endpoint read for an attempt is used for the next ones. */
const ENDPOINT_CACHE_MS = 1_000;

/** The longest a failing endpoint is left alone before it is tried again. */
const MAX_ENDPOINT_PAUSE_MS = 300_000;

export interface WebhookServiceOptions {
  store: WebhookStore;
  clock?: () => number;
  log?: Logger;
  retryDelaysMs?: readonly number[];
  timeoutMs?: number;
  /** Deliveries in flight at once (default 8). */
  concurrency?: number;
  /** Names this node as the holder of the attempts it makes (default "local"). */
  nodeID?: string;
  /**
   * With a store shared by several nodes: how often to look for deliveries this node did not
   * queue or schedule itself (retries of a node that stopped, leases of one that died).
   */
  pollMs?: number;
  /**
   * Attempts this node starts per second at most (default 200). Each costs the serving thread
   * about half a millisecond, so the sender keeps its own pace and rings keep theirs; what comes
   * faster waits in the store (durable) and is sent as the pace allows.
   */
  maxPerSecond?: number;
}

export class WebhookService implements Hook {
  readonly name = "webhooks";
  private readonly clock: () => number;
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly maxPerSecond: number;
  /** Attempts the pace allows now (a token bucket holding a tenth of a second's worth). */
  private tokens: number;
  private tokensAt: number;
  private paceTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running = 0;
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Events published in this event-loop turn, queued together at its end. */
  private published: Array<{ dedupeKey: string; payload: WebhookPayload }> = [];
  private publishing: Promise<void> | undefined;
  /** Endpoints read for recent attempts, with their signers (endpoints change rarely). */
  private readonly endpoints = new Map<
    string,
    { endpoint: WebhookEndpoint; signer: Webhook; readAt: number }
  >();
  /** Endpoints this node saw failing: how many pauses in a row, and until when. */
  private readonly pauses = new Map<string, { failures: number; until: number }>();

  constructor(private readonly options: WebhookServiceOptions) {
    this.clock = options.clock ?? Date.now;
    this.retryDelaysMs = options.retryDelaysMs ?? defaultRetryDelaysMs;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.concurrency = options.concurrency ?? 8;
    this.maxPerSecond = options.maxPerSecond ?? 200;
    this.tokens = this.burst;
    this.tokensAt = this.clock();
  }

  private get burst(): number {
    return Math.max(1, this.maxPerSecond / 10);
  }

  /** Attempts the pace allows now (whole ones). */
  private allowance(): number {
    const now = this.clock();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.tokensAt) / 1000) * this.maxPerSecond,
    );
    this.tokensAt = now;
    return Math.floor(this.tokens);
  }

  /** Looks again once the pace allows one more attempt. */
  private waitForPace(): void {
    if (this.paceTimer || this.stopped) return;
    const ms = Math.max(1, Math.ceil(((1 - this.tokens) / this.maxPerSecond) * 1000));
    this.paceTimer = setTimeout(() => {
      this.paceTimer = undefined;
      this.kick();
    }, ms);
    this.paceTimer.unref();
  }

  /** Starts sending what is queued (deliveries left by an earlier run included). */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  async onFact(fact: Fact, meta: FactMeta): Promise<void> {
    const { type, data } = payloadOfFact(fact);
    await this.publish(meta.id, type, data, fact.at);
  }

  /**
   * A relay round in a few transactions, not one per fact; between slices the event loop gets a
   * turn, so rings are not held back while a long round is queued.
   */
  async onFacts(batch: ReadonlyArray<{ fact: Fact; meta: FactMeta }>): Promise<void> {
    for (let start = 0; start < batch.length; start += ENQUEUE_SLICE) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const events = batch.slice(start, start + ENQUEUE_SLICE).map(({ fact, meta }) => {
        const { type, data } = payloadOfFact(fact);
        return {
          dedupeKey: meta.id,
          payload: { type, timestamp: new Date(fact.at).toISOString(), data },
        };
      });
      await this.enqueue(events);
    }
  }

  /**
   * Queues an event that is not a call fact (`push_failed`); `dedupeKey` makes a repeated
   * publish of the same event a no-op. The events published in one event-loop turn are queued
   * together.
   */
  publish(
    dedupeKey: string,
    type: WebhookEventType,
    data: Record<string, unknown>,
    at: number,
  ): Promise<void> {
    this.published.push({
      dedupeKey,
      payload: { type, timestamp: new Date(at).toISOString(), data },
    });
    this.publishing ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        const events = this.published.splice(0);
        this.publishing = undefined;
        this.enqueue(events).then(resolve, reject);
      }),
    );
    return this.publishing;
  }

  private async enqueue(
    events: ReadonlyArray<{ dedupeKey: string; payload: WebhookPayload }>,
  ): Promise<void> {
    const created = await this.options.store.enqueueMany(events, this.clock());
    const now = this.clock();
    // Deliveries for an endpoint paused here wait for the pause's own timer: looking for work
    // now would only walk past them.
    if (created.some((d) => (this.pauses.get(d.endpointID)?.until ?? 0) <= now)) this.kick();
  }

  /** Queues a delivered or dead delivery again; false if it is unknown or still pending. */
  async replay(deliveryID: string): Promise<boolean> {
    const done = await this.options.store.replay(deliveryID, this.clock());
    if (done) this.kick();
    return done;
  }

  /** Resolves once nothing is due now and nothing is in flight (tests, shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      await this.publishing;
      await this.pumping;
      await Promise.all(this.inFlight);
      const next = await this.options.store.nextDueAt();
      if (
        !this.pumping &&
        this.inFlight.size === 0 &&
        (next === undefined || next > this.clock())
      ) {
        return;
      }
      if (!this.pumping) this.kick();
      // Waiting for the pace: look again when it allows more, not in a tight loop.
      if (this.paceTimer) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async stop(): Promise<void> {
    // What was published is queued before the store may close.
    await this.publishing?.catch(() => undefined);
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    await this.pumping;
    await Promise.all(this.inFlight);
  }

  /** Looks for due work now (coalesced: one pump at a time, one more if asked meanwhile). */
  private kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.options.log?.error({ err: error }, "webhook queue failed"))
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pump(): Promise<void> {
    const store = this.options.store;
    for (;;) {
      const slots = this.concurrency - this.running;
      if (slots <= 0 || this.stopped) return;
      const room = Math.min(slots, this.allowance());
      if (room <= 0) {
        this.waitForPace();
        return;
      }
      const now = this.clock();
      // The lease: if this node dies mid-attempt, the delivery is due again after it.
      const due = await store.claimDue(
        now,
        room,
        now + this.timeoutMs + 5_000,
        this.options.nodeID ?? "local",
      );
      this.tokens -= due.length;
      for (const [index, delivery] of due.entries()) {
        // One attempt started per event-loop turn: a burst of requests must not hold rings back.
        if (index > 0) await new Promise((resolve) => setImmediate(resolve));
        // Stopping now leaves the rest claimed: their leases run out and they are due again.
        if (this.stopped) return;
        this.running++;
        const attempt = this.attempt(delivery).finally(() => {
          this.running--;
          this.inFlight.delete(attempt);
          this.kick();
        });
        this.inFlight.add(attempt);
      }
      if (due.length < room) break;
    }
    await this.armTimer();
  }

  /**
   * One timer for the earliest due delivery: no polling over the queue on one node. With a
   * shared store the timer fires at least every `pollMs`, for work other nodes left.
   */
  private async armTimer(): Promise<void> {
    const pollMs = this.options.pollMs;
    const queued = await this.options.store.nextDueAt();
    const next =
      pollMs === undefined
        ? queued
        : Math.min(queued ?? Number.POSITIVE_INFINITY, this.clock() + pollMs);
    if (next === undefined || this.stopped) return;
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    // Capped so a far-off retry does not overflow setTimeout's 24.8-day limit.
    const delay = Math.min(Math.max(0, next - this.clock()), 3_600_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.kick();
    }, delay);
    this.timer.unref();
  }

  /**
   * The endpoint and its signer, read again after a second: a busy endpoint costs one read a
   * second, not one per attempt. A removed endpoint's deliveries are gone with it, so a stale
   * entry can only serve attempts claimed before the removal.
   */
  private async endpointOf(
    id: string,
  ): Promise<{ endpoint: WebhookEndpoint; signer: Webhook } | undefined> {
    const now = this.clock();
    const cached = this.endpoints.get(id);
    if (cached && now - cached.readAt < ENDPOINT_CACHE_MS) return cached;
    const endpoint = await this.options.store.getEndpoint(id);
    if (!endpoint) {
      this.endpoints.delete(id);
      return undefined;
    }
    const entry = { endpoint, signer: new Webhook(endpoint.secret), readAt: now };
    this.endpoints.set(id, entry);
    return entry;
  }

  private async attempt(delivery: WebhookDelivery): Promise<void> {
    const store = this.options.store;
    const known = await this.endpointOf(delivery.endpointID);
    if (!known) return;
    const { endpoint, signer } = known;
    const started = this.clock();
    const attempt = delivery.attempts + 1;
    let httpStatus = 0;
    let error = "";
    try {
      const timestamp = new Date(started);
      const response = await fetch(endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Beckon-Webhooks/1",
          "webhook-id": delivery.id,
          "webhook-timestamp": String(Math.floor(started / 1000)),
          "webhook-signature": signer.sign(delivery.id, timestamp, delivery.body),
        },
        body: delivery.body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      httpStatus = response.status;
      if (!response.ok)
        error = (await response.text().catch(() => "")).slice(0, 200) || response.statusText;
      else await response.body?.cancel();
    } catch (caught) {
      error = (caught as Error).message;
    }
    const now = this.clock();
    const delivered = httpStatus >= 200 && httpStatus < 300;
    const delay = this.retryDelaysMs[attempt - 1];
    const next = delivered
      ? { status: "delivered" as const, nextAttemptAt: 0 }
      : delay === undefined
        ? { status: "dead" as const, nextAttemptAt: 0 }
        : { status: "pending" as const, nextAttemptAt: now + delay };
    await store.recordAttempt(
      {
        deliveryID: delivery.id,
        attempt,
        at: started,
        httpStatus,
        error,
        durationMs: now - started,
      },
      next,
    );
    if (next.status === "dead") {
      this.options.log?.warn(
        { deliveryID: delivery.id, endpoint: endpoint.url },
        "webhook dead-lettered",
      );
    }
    await this.judgeEndpoint(endpoint.id, delivered, now);
  }

  /**
   * A failing endpoint is paused, for the first retry delay and twice as long after each pause
   * that ended in another failure (at most 5 minutes), so a dead endpoint costs a few attempts
   * per pause, not one per queued delivery. One success lifts it.
   */
  private async judgeEndpoint(endpointID: string, delivered: boolean, now: number): Promise<void> {
    const pause = this.pauses.get(endpointID);
    if (delivered) {
      this.pauses.delete(endpointID);
      return;
    }
    // The other attempts in flight when the pause began fail too: one pause, not one each.
    if (pause && now < pause.until) return;
    const failures = (pause?.failures ?? 0) + 1;
    const base = this.retryDelaysMs[0] ?? 1_000;
    const until = now + Math.min(base * 2 ** (failures - 1), MAX_ENDPOINT_PAUSE_MS);
    this.pauses.set(endpointID, { failures, until });
    await this.options.store.pauseEndpoint(endpointID, until);
  }
}
