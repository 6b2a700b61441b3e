// The live view's data: one snapshot of the deployment (calls ringing and started, devices
// online, rings and ring latency over the last hour, shed and failed work, the running calls)
// built once per tick for every console watching this node, and only while one watches. Each
// node also leaves its own numbers on the stats board for the other nodes' consoles.
import type { Call } from "@beckon/engine";
import type { Logger } from "pino";
import type { z } from "zod";
import type { CallStore } from "../store/call-store.js";
import type { callSummary as callSummarySchema } from "./console-schemas.js";
import type { IntegrationHealth } from "./integration-health.js";
import { type CombinedStats, combineStats, type LiveStats } from "./live-stats.js";
import type { StatsBoard } from "./stats-board.js";

/** A call as the console lists it (the schema the console routes answer with). */
export type CallSummary = z.infer<typeof callSummarySchema>;

export interface ConsoleSnapshot extends CombinedStats {
  calls: { ringing: number; started: number };
  /** Over the last hour; null while not yet counted. */
  failed: { pushes: number; webhooks: number } | null;
  /** The newest started calls. */
  liveCalls: CallSummary[];
}

export function callSummary(call: Call): CallSummary {
  return {
    callID: call.callID,
    caller: call.caller,
    mode: call.mode,
    state: call.state,
    createTime: call.createTime,
    endTime: call.endTime,
    version: call.version,
    members: call.members.map(({ userID, state }) => ({ userID, state })),
  };
}

export interface ConsoleFeedOptions {
  stats: LiveStats;
  board: StatsBoard;
  store: Pick<CallStore, "countStartedCalls" | "countRingingCalls" | "listCalls">;
  health?: IntegrationHealth;
  log: Logger;
  clock?: () => number;
  /** How often watching consoles get a snapshot (when it changed). */
  tickMs?: number;
  /** How often this node leaves its numbers on the board. */
  publishMs?: number;
}

const HOUR = 3_600_000;
const LIVE_CALLS = 20;
/** Failures are counted in the database: every few ticks is plenty. */
const FAILED_EVERY = 5;

export class ConsoleFeed {
  private readonly clock: () => number;
  private readonly listeners = new Set<(snapshot: ConsoleSnapshot) => void>();
  private ticker: NodeJS.Timeout | undefined;
  private readonly publisher: NodeJS.Timeout;
  private failed: ConsoleSnapshot["failed"] = null;
  private ticks = 0;
  private running = false;

  constructor(private readonly options: ConsoleFeedOptions) {
    this.clock = options.clock ?? Date.now;
    this.publisher = setInterval(() => void this.publish(), options.publishMs ?? 2_000);
    this.publisher.unref();
  }

  /** Takes the first reading and leaves this node's numbers on the board. */
  async start(): Promise<void> {
    await this.publish();
  }

  /** `listener` gets a snapshot now and then whenever ticks run; returns the unsubscribe. */
  subscribe(listener: (snapshot: ConsoleSnapshot) => void): () => void {
    this.listeners.add(listener);
    if (!this.ticker) {
      this.ticker = setInterval(() => void this.tick(), this.options.tickMs ?? 1_000);
      this.ticker.unref();
    }
    void this.snapshot()
      .then((snapshot) => listener(snapshot))
      .catch((error: unknown) => this.options.log.warn({ err: error }, "console snapshot failed"));
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.ticker) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    };
  }

  async snapshot(): Promise<ConsoleSnapshot> {
    const now = this.clock();
    const { stats, board, store } = this.options;
    await stats.tick();
    const own = await stats.snapshot();
    const others = await board.read(now - 10_000).catch((error: unknown) => {
      this.options.log.warn({ err: error }, "console stats board unreadable; this node only");
      return [];
    });
    const nodes = [own, ...others.filter((node) => node.nodeID !== own.nodeID)];
    if (this.failed === null || this.ticks % FAILED_EVERY === 0)
      this.failed = await this.countFailed(now);
    const [started, ringing, live] = await Promise.all([
      store.countStartedCalls(),
      store.countRingingCalls(),
      store.listCalls("started", LIVE_CALLS),
    ]);
    return {
      ...combineStats(nodes, now),
      calls: { ringing, started: started.general + started.advanced },
      failed: this.failed,
      liveCalls: live.map(callSummary),
    };
  }

  async close(nodeID: string): Promise<void> {
    clearInterval(this.publisher);
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.listeners.clear();
    await this.options.board.remove(nodeID).catch(() => {});
  }

  private async countFailed(now: number): Promise<ConsoleSnapshot["failed"]> {
    const { health } = this.options;
    if (!health) return { pushes: 0, webhooks: 0 };
    const [pushes, endpoints] = await Promise.all([
      health.pushes(now - HOUR),
      health.endpoints(now - HOUR),
    ]);
    return {
      pushes: pushes.reduce((total, counts) => total + counts.failed, 0),
      webhooks: endpoints.reduce((total, endpoint) => total + endpoint.dead, 0),
    };
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.ticks++;
    try {
      const snapshot = await this.snapshot();
      for (const listener of this.listeners) listener(snapshot);
    } catch (error) {
      this.options.log.warn({ err: error }, "console snapshot failed");
    } finally {
      this.running = false;
    }
  }

  private async publish(): Promise<void> {
    try {
      await this.options.stats.tick();
      await this.options.board.publish(await this.options.stats.snapshot());
    } catch (error) {
      this.options.log.warn({ err: error }, "console stats not published");
    }
  }
}
