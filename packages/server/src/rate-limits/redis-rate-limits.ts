// Rate limits for a cluster, on Redis, with rate-limiter-flexible: one counter per key and fixed
// window, incremented and expired by one script, so every node spends the same budget. A key
// found spent is refused on this node from memory for the rest of its window, so a flood costs
// Redis one round trip per node and window, not one per request. When Redis is away or slow,
// the node's own budgets (the memory ones) answer: limits loosen to per node, never refuse all.
import { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { MemoryRateLimits } from "./memory-rate-limits.js";
import {
  type LimitName,
  limitNames,
  type RateLimit,
  type RateLimitSettings,
  type RateLimits,
} from "./rate-limits.js";

export interface RedisRateLimitsOptions {
  url: string;
  /** Put before every key, so several deployments can share one Redis. */
  prefix?: string;
  limits: RateLimitSettings;
  /** How long a request may wait for Redis before the node's own budget answers it. */
  timeoutMs?: number;
  /** How long the node's own budgets answer after Redis failed or timed out. */
  retryAfterMs?: number;
  /** The clock of the local budgets. */
  clock?: () => number;
  /** Told once per outage when the node's own budgets take over (false), and when Redis is back. */
  onHealth?: (healthy: boolean, error?: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 200;
const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * A token bucket's burst and rate as the fixed window Redis counts in: `burst` requests per
 * `burst / perSecond` seconds (whole seconds, the window's unit), so the long-run rate is the
 * same and a burst is at most `burst` per window.
 */
export function fixedWindow(limit: RateLimit): { points: number; duration: number } {
  const duration = Math.max(1, Math.ceil(limit.burst / limit.perSecond));
  return { points: Math.max(limit.burst, Math.floor(limit.perSecond * duration)), duration };
}

export class RedisRateLimits implements RateLimits {
  private readonly limiters: Record<LimitName, RateLimiterRedis>;
  private readonly local: MemoryRateLimits;
  private readonly clock: () => number;
  private readonly retryAfterMs: number;
  /** Until then the node's own budgets answer: Redis failed or timed out lately. */
  private localUntil = 0;
  private degraded = false;

  private constructor(
    private readonly redis: Redis,
    private readonly options: RedisRateLimitsOptions,
  ) {
    const prefix = options.prefix ?? "beckon:";
    this.clock = options.clock ?? Date.now;
    this.retryAfterMs = options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    this.local = new MemoryRateLimits(options.limits, this.clock);
    const limiter = (name: LimitName) => {
      const { points, duration } = fixedWindow(options.limits[name]);
      return new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${prefix}rl:${name}`,
        points,
        duration,
        // The request that spends a key's last point marks the key spent here until its window
        // ends: further requests are refused without asking Redis.
        inMemoryBlockOnConsumed: points,
        rejectIfRedisNotReady: true,
      });
    };
    this.limiters = Object.fromEntries(limitNames.map((name) => [name, limiter(name)])) as Record<
      LimitName,
      RateLimiterRedis
    >;
  }

  static async open(options: RedisRateLimitsOptions): Promise<RedisRateLimits> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new Error("timeoutMs must be positive");
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // While disconnected a command fails at once (and the local budget answers) instead of
      // waiting in a queue; a connected but silent Redis is cut short by the timeout.
      enableOfflineQueue: false,
      commandTimeout: timeoutMs,
      // The ready check's INFO would run under the same short timeout, and a busy moment would
      // fail the connection; a Redis still loading answers errors, and local budgets step in.
      enableReadyCheck: false,
    });
    redis.on("error", () => {});
    try {
      await redis.connect();
    } catch (error) {
      // Or the client would go on trying to connect for nobody.
      redis.disconnect();
      throw error;
    }
    const limits = new RedisRateLimits(redis, options);
    // Back from a lost connection: Redis answers again at once, not after `retryAfterMs`.
    redis.on("ready", () => {
      limits.localUntil = 0;
      limits.recovered();
    });
    return limits;
  }

  take(name: LimitName, key: string): boolean | Promise<boolean> {
    if (this.redis.status !== "ready") {
      this.fallBack(new Error(`Redis connection is ${this.redis.status}`), false);
      return this.local.take(name, key);
    }
    if (this.clock() < this.localUntil) return this.local.take(name, key);
    return this.limiters[name].consume(key).then(
      () => {
        this.recovered();
        return true;
      },
      (error: unknown) => {
        if (error instanceof RateLimiterRes) return false;
        this.fallBack(error instanceof Error ? error : new Error(String(error)), true);
        return this.local.take(name, key);
      },
    );
  }

  private fallBack(error: Error, pause: boolean): void {
    if (pause) this.localUntil = this.clock() + this.retryAfterMs;
    if (this.degraded) return;
    this.degraded = true;
    this.options.onHealth?.(false, error);
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.options.onHealth?.(true);
  }

  async close(): Promise<void> {
    await this.local.close();
    // A silent Redis would hold QUIT until its timeout; the socket goes either way.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
