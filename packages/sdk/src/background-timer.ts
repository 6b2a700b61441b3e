// Housekeeping timers (heartbeat, liveness) must not keep a Node process alive on their own;
// browsers have no such notion, hence the feature test.

export function unrefTimer(handle: ReturnType<typeof setTimeout>): void {
  const maybeNodeTimer = handle as unknown as { unref?: () => void } | null;
  if (typeof maybeNodeTimer === "object" && typeof maybeNodeTimer?.unref === "function") {
    maybeNodeTimer.unref();
  }
}
