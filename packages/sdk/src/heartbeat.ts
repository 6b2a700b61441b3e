// The client's side of the heartbeat: a ping (carrying the stream acknowledgement) every
// interval the server named at login, and a socket from which nothing arrived for two intervals
// (SPEC §5) plus room for a round trip counts as dead.
import { clampDelay, unrefTimer } from "./background-timer.js";

/** At most this is added to two silent heartbeat intervals before a socket counts as dead. */
const MAX_LIVENESS_SLACK_MS = 2_000;

export class Heartbeat {
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private intervalMs = 0;

  constructor(
    private readonly ping: () => void,
    /** The socket went silent for `limitMs`. */
    private readonly silent: (limitMs: number) => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.intervalMs = intervalMs;
    this.pingTimer = setInterval(this.ping, clampDelay(intervalMs));
    unrefTimer(this.pingTimer);
    this.heard();
  }

  /** A frame arrived: the socket is alive for another two intervals. */
  heard(): void {
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    const interval = this.intervalMs;
    const limit = 2 * interval + Math.min(MAX_LIVENESS_SLACK_MS, interval / 2);
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = undefined;
      this.silent(limit);
    }, clampDelay(limit));
    unrefTimer(this.livenessTimer);
  }

  stop(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    this.pingTimer = undefined;
    this.livenessTimer = undefined;
  }
}
