// Prometheus metrics of one node (prom-client). The core reports what happens through the small
// `on…`/`observe…` methods; gauges that are cheaper to read than to track (devices online,
// pending deadlines) are read at scrape time through `readGauges`.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Why a login was refused, as a metric label (kept to a few values). */
export type LoginRefusal = "token_invalid" | "token_expired" | "token_too_long" | "other";
/** How one invitee's ring ended. */
export type RingOutcome = "accepted" | "rejected" | "cancelled" | "timeout" | "busy" | "other";

/** Gauges read when Prometheus scrapes. */
export interface GaugeSources {
  devicesOnline(): number;
  /** Calls with at least one pending deadline (ring timeout, receipt check, caller grace…). */
  pendingDeadlines(): number;
  /**
   * Started calls by mode, from the store: counting creations and ends in the node went below
   * zero when a call begun before a restart ended after it.
   */
  activeCalls(): Promise<{ general: number; advanced: number }>;
  /** New invitations admitted and not yet answered (the admission bound's measure). */
  pendingInvites?(): number;
}

// Process metrics (event-loop delay, heap, GC…) are registered once per process: each
// registration starts its own event-loop monitor and GC observer, and tests run many nodes.
let processRegistry: Registry | undefined;
const NAMED_LIKE_COUNTERS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 20 });
    // Gauges named like counters break Prometheus' naming rules (`promtool check metrics`:
    // non-counter metrics should not have "_total" suffix); the per-type gauges beside them
    // (`nodejs_active_handles{type}`…) carry the same numbers, summed in a query.
    for (const name of NAMED_LIKE_COUNTERS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

const seconds = (ms: number) => Math.max(0, ms) / 1000;

// Buckets in seconds: ring and receipt latency are milliseconds on a LAN and seconds on a bad
// mobile link; deadline lateness should stay under a few ms.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LATENESS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

export class BeckonMetrics {
  readonly registry = new Registry();
  private readonly logins: Counter<"result">;
  private readonly logouts: Counter<"reason">;
  private readonly rings: Counter<"outcome">;
  private readonly callsCreated: Counter<"mode">;
  private readonly callsEnded: Counter<"mode">;
  private readonly ringLatency: Histogram;
  private readonly receiptLatency: Histogram;
  private readonly deadlineLateness: Histogram;
  private readonly storeCommit: Histogram;
  private readonly socketsClosed: Counter<"reason">;
  private readonly shed: Counter<"op" | "bound">;
  private readonly overflow: Counter<"queue">;

  constructor(sources: GaugeSources) {
    const registers = [this.registry];
    new Gauge({
      name: "beckon_devices_online",
      help: "Logged-in devices connected to this node",
      registers,
      collect() {
        this.set(sources.devicesOnline());
      },
    });
    new Gauge({
      name: "beckon_pending_deadlines",
      help: "Calls with a pending deadline (ring timeout, receipt check, caller grace)",
      registers,
      collect() {
        this.set(sources.pendingDeadlines());
      },
    });
    new Gauge({
      name: "beckon_pending_invites",
      help: "New invitations being handled on this node (admitted, not yet answered)",
      registers,
      collect() {
        this.set(sources.pendingInvites?.() ?? 0);
      },
    });
    this.logins = new Counter({
      name: "beckon_logins_total",
      help: "Login attempts by result (ok, or why the token was refused)",
      labelNames: ["result"],
      registers,
    });
    this.logouts = new Counter({
      name: "beckon_logouts_total",
      help: "Sessions ended, by reason (logout, kicked, token_expired, lost)",
      labelNames: ["reason"],
      registers,
    });
    this.rings = new Counter({
      name: "beckon_rings_total",
      help: "Invitees whose ring ended, by outcome",
      labelNames: ["outcome"],
      registers,
    });
    this.callsCreated = new Counter({
      name: "beckon_calls_created_total",
      help: "Calls created, by mode",
      labelNames: ["mode"],
      registers,
    });
    this.callsEnded = new Counter({
      name: "beckon_calls_ended_total",
      help: "Calls ended, by mode",
      labelNames: ["mode"],
      registers,
    });
    new Gauge({
      name: "beckon_active_calls",
      help: "Calls started and not ended, from the store (the same on every node of a cluster)",
      labelNames: ["mode"],
      registers,
      async collect() {
        const counts = await sources.activeCalls();
        this.set({ mode: "general" }, counts.general);
        this.set({ mode: "advanced" }, counts.advanced);
      },
    });
    this.ringLatency = new Histogram({
      name: "beckon_ring_latency_seconds",
      help: "From an invite to the first delivery of callInvitationReceived to an invitee device",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.receiptLatency = new Histogram({
      name: "beckon_receipt_latency_seconds",
      help: "From an invite to the invitee's receipt (Inviting -> Received)",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.deadlineLateness = new Histogram({
      name: "beckon_deadline_lateness_seconds",
      help: "How late a deadline (timeout, receipt check, grace) fired after its due time",
      buckets: LATENESS_BUCKETS,
      registers,
    });
    this.storeCommit = new Histogram({
      name: "beckon_store_commit_seconds",
      help: "Time to commit one batch of writes to the store",
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.socketsClosed = new Counter({
      name: "beckon_sockets_closed_total",
      help: "Sockets the node closed on its own: slow_reader (4005), flooding (1008)",
      labelNames: ["reason"],
      registers,
    });
    this.shed = new Counter({
      name: "beckon_requests_shed_total",
      help: "Requests refused with 6000009 (server busy) because the node was past a bound, by operation and bound",
      labelNames: ["op", "bound"],
      registers,
    });
    this.overflow = new Counter({
      name: "beckon_queue_overflow_total",
      help: "Work left in the store because an in-memory window was full (push), retried from there",
      labelNames: ["queue"],
      registers,
    });
    for (const result of ["ok", "token_invalid", "token_expired", "token_too_long", "other"]) {
      this.logins.inc({ result }, 0);
    }
  }

  onLogin(): void {
    this.logins.inc({ result: "ok" });
  }
  onLoginRefused(reason: LoginRefusal): void {
    this.logins.inc({ result: reason });
  }
  onSessionEnded(reason: "logout" | "kicked" | "token_expired" | "lost"): void {
    this.logouts.inc({ reason });
  }
  onCallCreated(mode: "general" | "advanced"): void {
    this.callsCreated.inc({ mode });
  }
  onCallEnded(mode: "general" | "advanced"): void {
    this.callsEnded.inc({ mode });
  }
  onRingEnded(outcome: RingOutcome): void {
    this.rings.inc({ outcome });
  }
  observeRing(ms: number): void {
    this.ringLatency.observe(seconds(ms));
  }
  observeReceipt(ms: number): void {
    this.receiptLatency.observe(seconds(ms));
  }
  observeDeadlineLateness(ms: number): void {
    this.deadlineLateness.observe(seconds(ms));
  }
  observeStoreCommit(ms: number): void {
    this.storeCommit.observe(seconds(ms));
  }
  onSocketClosed(reason: "slow_reader" | "flooding"): void {
    this.socketsClosed.inc({ reason });
  }
  onShed(op: string, bound: string): void {
    this.shed.inc({ op, bound });
  }
  onOverflow(queue: "push"): void {
    this.overflow.inc({ queue });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition: this node's metrics, then the process's. */
  async metricsText(): Promise<string> {
    return (await this.registry.metrics()) + (await processMetrics().metrics());
  }
}

/** Answers `GET /metrics`; mount it wherever the HTTP side routes. */
export async function serveMetrics(
  metrics: BeckonMetrics,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  const body = await metrics.metricsText();
  response.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
  response.end(request.method === "HEAD" ? undefined : body);
}
