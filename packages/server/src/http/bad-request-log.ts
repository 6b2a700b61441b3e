// Bad requests are logged, but a stranger sending millions must not fill the disk with lines:
// one line per window, with how many more came.
import type { Logger } from "pino";

const WINDOW_MS = 10_000;

export function badRequestLog(log: Logger): (reason: string, detail?: string) => void {
  let windowStart = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (reason, detail) => {
    const now = Date.now();
    if (now - windowStart < WINDOW_MS) {
      suppressed += 1;
      return;
    }
    log.warn({ reason, detail, suppressedBefore: suppressed }, "bad http request refused");
    windowStart = now;
    suppressed = 0;
  };
}
