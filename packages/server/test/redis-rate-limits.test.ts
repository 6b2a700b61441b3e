// The RateLimits contract on Redis, plus what happens when Redis goes: the node's own budgets
// answer (per node, never refusing everything), a silent Redis holds a request no longer than
// the timeout, and the shared budgets are back once Redis is.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RedisRateLimits } from "../src/rate-limits/redis-rate-limits.js";
import { describeRateLimits, slowLimits, takeMany } from "./support/rate-limits-contract.js";
import { dropRedisKeys, haveRedis, redisUrl, uniqueName } from "./support/services.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

const available = await haveRedis();
const prefixes: string[] = [];
afterAll(async () => {
  if (available) for (const prefix of prefixes) await dropRedisKeys(prefix);
});
let current = "";
function newPrefix(): string {
  current = `${uniqueName("beckon-test")}:`;
  prefixes.push(current);
  return current;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Redis URL whose connection the test can cut or silence. */
async function proxiedRedis(): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy(Number(new URL(redisUrl).port || 6379));
  cleanups.push(() => proxy.close());
  return { proxy, url: `redis://127.0.0.1:${new URL(proxy.url).port}` };
}

/** Health changes as the limiter reports them, awaitable. */
function healthLog() {
  const changes: boolean[] = [];
  const waiters: Array<() => void> = [];
  return {
    changes,
    onHealth(healthy: boolean) {
      changes.push(healthy);
      for (const wake of waiters.splice(0)) wake();
    },
    async until(healthy: boolean, count: number) {
      while (changes.filter((change) => change === healthy).length < count)
        await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

describe.runIf(available)("RedisRateLimits", () => {
  describe("contract", () => {
    newPrefix();
    afterEach(() => {
      newPrefix();
    });
    describeRateLimits("Redis", (limits) =>
      RedisRateLimits.open({ url: redisUrl, prefix: current, limits }),
    );
  });

  it("with Redis cut, each node's own budgets answer; with Redis back, the shared ones", async () => {
    const prefix = newPrefix();
    const { proxy, url } = await proxiedRedis();
    const health = healthLog();
    const [cut, direct] = await Promise.all([
      RedisRateLimits.open({ url, prefix, limits: slowLimits, onHealth: health.onHealth }),
      RedisRateLimits.open({ url: redisUrl, prefix, limits: slowLimits }),
    ]);
    cleanups.push(async () => {
      await Promise.all([cut.close(), direct.close()]);
    });
    // Spent in Redis by the other node.
    await takeMany(direct, "requests", "spent", 5);
    await takeMany(direct, "requests", "later", 5);

    proxy.down();
    // The node's own budget: a full one for this node, refusing past it (not refusing all).
    expect(await takeMany(cut, "requests", "spent", 6)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(health.changes).toEqual([false]);

    proxy.up();
    await health.until(true, 1);
    expect(await cut.take("requests", "later")).toBe(false);
    expect(await cut.take("requests", "fresh")).toBe(true);
    expect(await direct.take("requests", "fresh")).toBe(true);
  });

  it("a silent Redis holds a request only until the timeout; then local budgets answer at once", async () => {
    const prefix = newPrefix();
    const { proxy, url } = await proxiedRedis();
    const health = healthLog();
    const limits = await RedisRateLimits.open({
      url,
      prefix,
      limits: slowLimits,
      timeoutMs: 50,
      // Longer than the test: after one timeout, every answer here is local.
      retryAfterMs: 600_000,
      onHealth: health.onHealth,
    });
    cleanups.push(() => limits.close());
    proxy.blackhole();
    const first = limits.take("requests", "quiet");
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(true);
    expect(health.changes).toEqual([false]);
    const next = limits.take("requests", "quiet");
    expect(typeof next).toBe("boolean");
    expect(await takeMany(limits, "requests", "quiet", 4)).toEqual([true, true, true, false]);
  });

  it("refuses a bad timeout", async () => {
    await expect(
      RedisRateLimits.open({ url: redisUrl, limits: slowLimits, timeoutMs: 0 }),
    ).rejects.toThrow("timeoutMs must be positive");
  });
});
