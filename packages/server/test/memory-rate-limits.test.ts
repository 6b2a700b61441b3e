// The RateLimits contract in memory (the nodes of one process share one instance), and the
// token bucket it keeps: refilled by the clock, forgotten once full again.
import { afterEach, expect, it } from "vitest";
import { MemoryRateLimits } from "../src/rate-limits/memory-rate-limits.js";
import { describeRateLimits, slowLimits, takeMany } from "./support/rate-limits-contract.js";

let shared: MemoryRateLimits | undefined;
afterEach(async () => {
  await shared?.close();
  shared = undefined;
});
describeRateLimits("memory", async (limits) => {
  shared ??= new MemoryRateLimits(limits);
  return shared;
});

it("answers at once, refills at its rate and forgets buckets that are full again", async () => {
  let now = 1_000_000;
  const limits = new MemoryRateLimits(
    { ...slowLimits, requests: { burst: 2, perSecond: 4 } },
    () => now,
  );
  try {
    expect(limits.take("requests", "erin")).toBe(true);
    expect(await takeMany(limits, "requests", "erin", 2)).toEqual([true, false]);
    now += 250;
    expect(await takeMany(limits, "requests", "erin", 2)).toEqual([true, false]);
    // Half a second on, the bucket is full: pruning drops it, and a fresh one is the same.
    expect(await takeMany(limits, "api", "erin", 1)).toEqual([true]);
    now += 500;
    limits.prune();
    // The api bucket (0.001/s) is still short of one request: it stays.
    expect(limits.size).toBe(1);
    expect(await takeMany(limits, "requests", "erin", 3)).toEqual([true, true, false]);
  } finally {
    await limits.close();
  }
});
