// Reconnect delays: exponential backoff with full jitter, so a server restart is not met by
// every client at the same instant.

export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

/** A random delay in [0, min(max, min·2^attempt)); attempt counts from 0. */
export function fullJitterDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * ceiling);
}
