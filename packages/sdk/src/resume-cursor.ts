// Where this device's event stream stands (its epoch and the last seq seen), so a reconnect
// resumes from there, and events a replay repeats are dropped while a lost one is noticed.
import type { LoginRequest, LoginResult } from "@beckon/protocol";

export class ResumeCursor {
  private epoch: string | null = null;
  private lastSeq = 0;

  /** The last seq seen: what a heartbeat acknowledges. */
  get seq(): number {
    return this.lastSeq;
  }

  /** Whether a session was up before (a login now is a reconnect). */
  get started(): boolean {
    return this.epoch !== null;
  }

  /** Where a reconnect resumes from, or undefined for a first login. */
  resumeFrom(): LoginRequest["resume"] {
    return this.epoch === null ? undefined : { epoch: this.epoch, seq: this.lastSeq };
  }

  /** A login's reply: whether the stream was resumed; if not, it counts from a new start. */
  loggedIn(result: LoginResult): boolean {
    const epoch = typeof result?.epoch === "string" ? result.epoch : null;
    const resumed = result?.resumed === true && epoch !== null && epoch === this.epoch;
    if (!resumed) this.lastSeq = 0;
    this.epoch = epoch;
    return resumed;
  }

  /** An event's seq: "next" to show, "repeat" to drop, "gap" when one before it was lost. */
  take(seq: number): "next" | "repeat" | "gap" {
    if (seq <= this.lastSeq) return "repeat";
    if (seq > this.lastSeq + 1) return "gap";
    this.lastSeq = seq;
    return "next";
  }

  clear(): void {
    this.epoch = null;
    this.lastSeq = 0;
  }
}
