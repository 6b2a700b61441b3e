// One contract every RateLimits must keep, run against each backend. The instances `open` gives
// within one test share their budgets, as the nodes of a cluster do.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RateLimitSettings, RateLimits } from "../../src/rate-limits/rate-limits.js";

/** Budgets that do not refill within a test, so counts do not depend on how fast it runs. */
export const slowLimits: RateLimitSettings = {
  requests: { burst: 5, perSecond: 0.001 },
  logins: { burst: 2, perSecond: 0.001 },
  api: { burst: 3, perSecond: 0.001 },
};

/** Takes `count` times in order (as one socket's requests come) and returns the answers. */
export async function takeMany(
  limits: RateLimits,
  name: keyof RateLimitSettings,
  key: string,
  count: number,
): Promise<boolean[]> {
  const answers: boolean[] = [];
  for (let i = 0; i < count; i++) answers.push(await limits.take(name, key));
  return answers;
}

export function describeRateLimits(
  name: string,
  open: (limits: RateLimitSettings) => Promise<RateLimits>,
): void {
  describe(`RateLimits contract: ${name}`, () => {
    const opened: RateLimits[] = [];
    const node = async (limits: RateLimitSettings = slowLimits) => {
      const made = await open(limits);
      opened.push(made);
      return made;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((limits) => limits.close()));
    });

    it("gives each key its burst, then refuses it; keys and limits are apart", async () => {
      const limits = await node();
      expect(await takeMany(limits, "requests", "alice", 6)).toEqual([
        true,
        true,
        true,
        true,
        true,
        false,
      ]);
      expect(await limits.take("requests", "bob")).toBe(true);
      expect(await takeMany(limits, "logins", "alice", 3)).toEqual([true, true, false]);
      expect(await takeMany(limits, "api", "alice", 4)).toEqual([true, true, true, false]);
    });

    it("nodes spend one budget per key", async () => {
      const [one, two] = [await node(), await node()];
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? one : two).take("requests", "carol")),
      );
      expect(answers.filter(Boolean)).toHaveLength(5);
      expect(await two.take("requests", "carol")).toBe(false);
      expect(await one.take("requests", "carol")).toBe(false);
    });

    it("a spent budget comes back with time", async () => {
      const limits = await node({ ...slowLimits, logins: { burst: 2, perSecond: 2 } });
      expect(await takeMany(limits, "logins", "dave", 3)).toEqual([true, true, false]);
      await vi.waitFor(
        async () => {
          expect(await limits.take("logins", "dave")).toBe(true);
        },
        { timeout: 5_000, interval: 50 },
      );
    });
  });
}
