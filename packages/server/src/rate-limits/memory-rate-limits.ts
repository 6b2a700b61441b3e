// Rate limits of one node, in memory: a token bucket per key. Buckets that have filled up again
// are forgotten, since a fresh one would be the same.

import {
  type LimitName,
  limitNames,
  type RateLimitSettings,
  type RateLimits,
} from "./rate-limits.js";
import { TokenBucket } from "./token-bucket.js";

const PRUNE_EVERY_MS = 30_000;

export class MemoryRateLimits implements RateLimits {
  private readonly buckets = new Map<LimitName, Map<string, TokenBucket>>();
  private readonly pruner: NodeJS.Timeout;

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly clock: () => number = Date.now,
  ) {
    for (const name of limitNames) this.buckets.set(name, new Map());
    this.pruner = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruner.unref();
  }

  take(name: LimitName, key: string): boolean {
    const now = this.clock();
    const buckets = this.buckets.get(name) as Map<string, TokenBucket>;
    let bucket = buckets.get(key);
    if (!bucket) {
      const { burst, perSecond } = this.settings[name];
      bucket = new TokenBucket(burst, perSecond, now);
      buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** Buckets held (keys that spent some of their budget lately). */
  get size(): number {
    let count = 0;
    for (const buckets of this.buckets.values()) count += buckets.size;
    return count;
  }

  /** Forgets buckets that are full again by now. */
  prune(): void {
    const now = this.clock();
    for (const buckets of this.buckets.values()) {
      for (const [key, bucket] of buckets) if (bucket.isFull(now)) buckets.delete(key);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pruner);
  }
}
