// What a socket may send. Every frame is charged before it is parsed, so garbage and frames from
// sockets that never log in cost their sender, not the node; a socket that keeps sending past
// its budget is disconnected. It stays local and synchronous: it guards this node, before any
// work. (App requests are also charged per user across devices: rate-limits/.)

import type { RateLimit } from "../rate-limits/rate-limits.js";
import { TokenBucket } from "../rate-limits/token-bucket.js";

/**
 * Raw frames may come this many times faster than app requests: receipts and heartbeats ride on
 * top of requests and must never be refused for an honest client's burst of requests.
 */
const FRAME_ALLOWANCE = 2;
/** Frames dropped over budget before the socket is closed. */
const MAX_DROPPED_FRAMES = 50;

export const TOO_MANY_FRAMES_CLOSE_CODE = 1008;

export class FrameBudget {
  private readonly bucket: TokenBucket;
  private dropped = 0;

  constructor(limit: RateLimit, now: number) {
    this.bucket = new TokenBucket(
      limit.burst * FRAME_ALLOWANCE,
      limit.perSecond * FRAME_ALLOWANCE,
      now,
    );
  }

  /** "ok" to go on with the frame, "drop" to ignore it, "close" when the socket is flooding. */
  charge(now: number): "ok" | "drop" | "close" {
    if (this.bucket.take(now)) return "ok";
    this.dropped += 1;
    return this.dropped > MAX_DROPPED_FRAMES ? "close" : "drop";
  }
}
