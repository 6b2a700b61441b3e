// Overload is refused, not queued. Past a bound a node refuses new invitations at once with
// 6000020 (server busy: nothing was done, retry later or elsewhere), so the invitations it admits
// keep ringing promptly and its goodput stays near its peak instead of halving under a backlog.
// Only new invitations are shed: answers, cancels, receipts and deadlines of calls already
// ringing always run, since refusing them would break calls the node has taken on.
import { performance } from "node:perf_hooks";
import { BeckonError, ErrorCode } from "@beckon/protocol";

export interface AdmissionSettings {
  /** New invitations past which the event loop's delay refuses more (ms); 0 turns it off. */
  maxLoopDelayMs: number;
  /** Invitations being handled at once (received, not yet answered); 0 turns it off. */
  maxPendingInvites: number;
}

/** Which bound refused an invitation (a metric label). */
export type ShedBound = "loop_delay" | "pending_invites";

/** How often the event loop's delay is sampled. */
const SAMPLE_MS = 10;
/** The window the loop's delay is averaged over: one long pause is not a load to shed. */
const WINDOW_MS = 100;
/**
 * Share of one core this process must have used over the window for the loop's delay to count:
 * then the delay is the node's own work. A process the machine starves of CPU (other programs
 * on a shared host) runs late too, but refusing calls would not help it.
 */
const BUSY_CPU_SHARE = 0.5;

export class Admission {
  private pending = 0;
  private lastTick = performance.now();
  private windowStart = performance.now();
  private windowDelay = 0;
  private windowSamples = 0;
  private windowCpu = process.cpuUsage();
  /** How late the loop ran on average over the last full window (ms). */
  private meanDelay = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: AdmissionSettings,
    private readonly onShed: (op: string, bound: ShedBound) => void = () => {},
  ) {
    if (settings.maxLoopDelayMs > 0) {
      this.timer = setInterval(() => this.sample(), SAMPLE_MS);
      this.timer.unref();
    }
  }

  /** Invitations admitted and not yet answered. */
  get pendingInvites(): number {
    return this.pending;
  }

  /**
   * One sample of the loop's delay; each window ends with its average, counted only when the
   * process was busy with its own work over the window.
   */
  private sample(): void {
    const now = performance.now();
    this.windowDelay += Math.max(0, now - this.lastTick - SAMPLE_MS);
    this.windowSamples += 1;
    this.lastTick = now;
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) return;
    const cpu = process.cpuUsage(this.windowCpu);
    const busy = (cpu.user + cpu.system) / 1000 >= BUSY_CPU_SHARE * elapsed;
    this.meanDelay = busy ? this.windowDelay / this.windowSamples : 0;
    this.windowCpu = process.cpuUsage();
    this.windowStart = now;
    this.windowDelay = 0;
    this.windowSamples = 0;
  }

  /** The bound the node is past now, or null. */
  private pastBound(): ShedBound | null {
    const { maxPendingInvites, maxLoopDelayMs } = this.settings;
    if (maxPendingInvites > 0 && this.pending >= maxPendingInvites) return "pending_invites";
    if (maxLoopDelayMs > 0 && this.meanDelay > maxLoopDelayMs) return "loop_delay";
    return null;
  }

  /** Runs a new invitation if the node is within its bounds; else refuses it at once (6000020). */
  async invitation<T>(op: string, work: () => Promise<T>): Promise<T> {
    const bound = this.pastBound();
    if (bound) {
      this.onShed(op, bound);
      throw new BeckonError(ErrorCode.ServerBusy, "the server is busy; try again shortly");
    }
    this.pending += 1;
    try {
      return await work();
    } finally {
      this.pending -= 1;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
