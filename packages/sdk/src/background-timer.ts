// Housekeeping timers (heartbeat, liveness) must not keep a Node process alive on their own;
// browsers have no such notion, hence the feature test.

export function unrefTimer(handle: ReturnType<typeof setTimeout>): void {
  const maybeNodeTimer = handle as unknown as { unref?: () => void } | null;
  if (typeof maybeNodeTimer === "object" && typeof maybeNodeTimer?.unref === "function") {
    maybeNodeTimer.unref();
  }
}

/** The longest delay timers keep as given; longer ones fire after 1 ms in Node and browsers. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A delay every runtime honours, whatever a server or an option asked for. */
export function clampDelay(ms: number): number {
  return Number.isNaN(ms) ? 0 : Math.min(Math.max(ms, 0), MAX_TIMER_DELAY_MS);
}
