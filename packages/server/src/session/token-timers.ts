// A session's two token deadlines: the warning (`tokenWillExpire`) some seconds ahead, and the
// expiry itself. LongTimeout waits in steps Node can keep: a token may expire months ahead.
import { LongTimeout } from "../long-timeout.js";

export class TokenTimers {
  private timers: LongTimeout[] = [];

  constructor(
    private readonly warningSeconds: number,
    private readonly clock: () => number,
  ) {}

  /** Replaces the deadlines with those of a token expiring at `expiresAt`. */
  arm(expiresAt: number, warn: (secondsLeft: number) => void, expire: () => void): void {
    this.cancel();
    this.timers = [
      new LongTimeout(
        expiresAt - this.warningSeconds * 1000,
        () => warn(Math.max(0, Math.round((expiresAt - this.clock()) / 1000))),
        this.clock,
      ),
      new LongTimeout(expiresAt, expire, this.clock),
    ];
  }

  cancel(): void {
    for (const timer of this.timers) timer.cancel();
    this.timers = [];
  }
}
