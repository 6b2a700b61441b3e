// What a socket and a user may send. Every frame is charged before it is parsed, so garbage and
// frames from sockets that never log in cost their sender, not the node; a socket that keeps
// sending past its budget is disconnected. App requests are also charged per user across devices.
import { TokenBucket } from "./rate-limiter.js";

export interface RateLimit {
  burst: number;
  perSecond: number;
}

/**
 * Raw frames may come this many times faster than app requests: receipts and heartbeats ride on
 * top of requests and must never be refused for an honest client's burst of requests.
 */
const FRAME_ALLOWANCE = 2;
/** Frames dropped over budget before the socket is closed. */
const MAX_DROPPED_FRAMES = 50;
/** A user's devices together may send this many times one device's request rate. */
const USER_ALLOWANCE = 2;

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

/** One request bucket per user, shared by all of the user's devices on this node. */
export class UserBudgets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly limit: RateLimit) {}

  take(userID: string, now: number): boolean {
    let bucket = this.buckets.get(userID);
    if (!bucket) {
      bucket = new TokenBucket(
        this.limit.burst * USER_ALLOWANCE,
        this.limit.perSecond * USER_ALLOWANCE,
        now,
      );
      this.buckets.set(userID, bucket);
    }
    return bucket.take(now);
  }

  /** Forgets users with no device left here; their next request starts with a full bucket. */
  prune(isPresent: (userID: string) => boolean): void {
    for (const userID of this.buckets.keys()) if (!isPresent(userID)) this.buckets.delete(userID);
  }
}
