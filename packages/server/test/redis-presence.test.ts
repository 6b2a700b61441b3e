// The Presence contract on Redis, plus leases: a node that stops touching its sessions (it
// died) loses them, while the sessions a live node touches stay.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RedisPresence } from "../src/presence/redis-presence.js";
import { describePresence } from "./support/presence-contract.js";
import { dropRedisKeys, haveRedis, redisUrl, uniqueName } from "./support/services.js";

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

describe.runIf(available)("RedisPresence", () => {
  describe("contract", () => {
    newPrefix();
    afterEach(() => {
      newPrefix();
    });
    describePresence("Redis", () => RedisPresence.open({ url: redisUrl, prefix: current }));
  });

  it("expires the sessions nobody touches and keeps the touched ones", async () => {
    const prefix = newPrefix();
    const [dead, alive] = await Promise.all([
      RedisPresence.open({ url: redisUrl, prefix, leaseMs: 300 }),
      RedisPresence.open({ url: redisUrl, prefix, leaseMs: 300 }),
    ]);
    try {
      const login = (deviceID: string, nodeID: string) => ({
        userID: "bob",
        deviceID,
        nodeID,
        loginTime: 1_000,
        awaySince: 0,
      });
      await dead.join(login("on-dead-node", "dead"), 10);
      await alive.join(login("on-live-node", "alive"), 10);
      // The live node keeps heartbeating; the dead one is gone. Wait until its session lapses.
      let devices = await alive.devicesOf("bob");
      while (devices.some((d) => d.deviceID === "on-dead-node")) {
        await alive.touch([{ userID: "bob", deviceID: "on-live-node" }]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        devices = await alive.devicesOf("bob");
      }
      expect(devices.map((d) => d.deviceID)).toEqual(["on-live-node"]);
    } finally {
      await Promise.all([dead.close(), alive.close()]);
    }
  });

  it("refuses a lease that is not positive", async () => {
    await expect(
      RedisPresence.open({ url: redisUrl, prefix: newPrefix(), leaseMs: 0 }),
    ).rejects.toThrow(/leaseMs must be positive/);
  });
});
