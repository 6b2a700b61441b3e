// Node runs a timer of more than 2^31-1 ms (about 24.8 days) after 1 ms instead, so a token
// valid for a month would log its device out at once. Every server timer goes through here.

/** The longest delay Node keeps as given. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A delay Node will honour: at least 0, at most MAX_TIMER_DELAY_MS (NaN counts as 0). */
export function clampDelay(ms: number): number {
  return Number.isNaN(ms) ? 0 : Math.min(Math.max(ms, 0), MAX_TIMER_DELAY_MS);
}

/** A background timer for any instant, however far ahead; it never keeps the process alive. */
export class LongTimeout {
  private handle: NodeJS.Timeout | null = null;

  constructor(
    private readonly at: number,
    private readonly fire: () => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.arm();
  }

  cancel(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
  }

  private arm(): void {
    const left = this.at - this.clock();
    this.handle = setTimeout(() => {
      // A far instant is reached in hops of the longest delay Node keeps.
      if (this.at > this.clock()) this.arm();
      else {
        this.handle = null;
        this.fire();
      }
    }, clampDelay(left));
    this.handle.unref();
  }
}
