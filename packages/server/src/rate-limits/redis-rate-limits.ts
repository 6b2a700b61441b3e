// Rate limits for a cluster, on Redis: one counter per key and fixed window (the window's number
// is in the key's name, so every node counts in the same one), so every node spends the same
// budget for one INCR per request (and a PEXPIRE when a window opens). A key found spent is
// refused on this node from memory for the rest of its window, so a flood costs Redis one round
// trip per node and window, not one per request. When Redis is away or slow, the node's own
// budgets (the memory ones) answer: limits loosen to per node, never refuse all.
import { type RedisClient, redisClient, redisTag } from "../redis-connection.js";
import { MemoryRateLimits } from "./memory-rate-limits.js";
import {
  type LimitName,
  limitNames,
  type RateLimit,
  type RateLimitSettings,
  type RateLimits,
} from "./rate-limits.js";

export interface RedisRateLimitsOptions {
  /** `redis://host:port/db`, or `redis://host:port?cluster=1` for a Redis Cluster. */
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

/** Spent keys remembered on a node before the ones whose window ended are swept out. */
const SPENT_SWEEP_AT = 10_000;

export class RedisRateLimits implements RateLimits {
  private readonly windows: Record<LimitName, { points: number; ms: number }>;
  private readonly prefix: string;
  private readonly local: MemoryRateLimits;
  private readonly clock: () => number;
  private readonly retryAfterMs: number;
  /** Keys whose budget is spent, by `name\0key`: until when (the end of their window). */
  private readonly spent = new Map<string, number>();
  /** Until then the node's own budgets answer: Redis failed or timed out lately. */
  private localUntil = 0;
  private degraded = false;

  private constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisRateLimitsOptions,
  ) {
    this.prefix = `${options.prefix ?? "beckon:"}rl:`;
    this.clock = options.clock ?? Date.now;
    this.retryAfterMs = options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    this.local = new MemoryRateLimits(options.limits, this.clock);
    this.windows = Object.fromEntries(
      limitNames.map((name) => {
        const { points, duration } = fixedWindow(options.limits[name]);
        return [name, { points, ms: duration * 1_000 }];
      }),
    ) as Record<LimitName, { points: number; ms: number }>;
  }

  static async open(options: RedisRateLimitsOptions): Promise<RedisRateLimits> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new Error("timeoutMs must be positive");
    const redis = redisClient(options.url, {
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
    const now = this.clock();
    if (now < this.localUntil) return this.local.take(name, key);
    const id = `${name}\u0000${key}`;
    const spentUntil = this.spent.get(id);
    if (spentUntil !== undefined) {
      if (now < spentUntil) return false;
      this.spent.delete(id);
    }
    const { points, ms } = this.windows[name];
    const window = Math.floor(now / ms);
    const counter = `${this.prefix}${name}:${redisTag(key)}${key}:${window}`;
    return this.redis.incr(counter).then(
      (count) => {
        // The first request of a window sets its expiry (a little after the window ends).
        if (count === 1) this.redis.pexpire(counter, ms + 1_000).catch(() => {});
        if (count >= points) this.markSpent(id, (window + 1) * ms);
        this.recovered();
        return count <= points;
      },
      (error: unknown) => {
        this.fallBack(error instanceof Error ? error : new Error(String(error)), true);
        return this.local.take(name, key);
      },
    );
  }

  private markSpent(id: string, until: number): void {
    this.spent.set(id, until);
    if (this.spent.size < SPENT_SWEEP_AT) return;
    const now = this.clock();
    for (const [key, end] of this.spent) if (end <= now) this.spent.delete(key);
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
