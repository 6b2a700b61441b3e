// The Presence contract on Redis, plus leases: sessions nobody touches lapse, a live node's stay,
// and a lost node's are taken over, as away, by one living node.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { DeviceState } from "../src/presence/presence.js";
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

/** Resolves once none of the user's sessions matches `which` (polling: a lease lapses silently). */
async function lapsed(
  presence: RedisPresence,
  userID: string,
  which: (device: DeviceState) => boolean,
): Promise<void> {
  while ((await presence.devicesOf(userID)).some(which))
    await new Promise((resolve) => setTimeout(resolve, 25));
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
        await new Promise((resolve) => setTimeout(resolve, 25));
        devices = await alive.devicesOf("bob");
      }
      expect(devices.map((d) => d.deviceID)).toEqual(["on-live-node"]);
    } finally {
      await Promise.all([dead.close(), alive.close()]);
    }
  });

  it("answers look-ups from memory until any node changes the user's sessions", async () => {
    const prefix = newPrefix();
    const [one, two] = await Promise.all([
      RedisPresence.open({ url: redisUrl, prefix }),
      RedisPresence.open({ url: redisUrl, prefix }),
    ]);
    const login = (deviceID: string, nodeID: string, loginTime: number) => ({
      userID: "carol",
      deviceID,
      nodeID,
      loginTime,
      awaySince: 0,
    });
    try {
      await two.join(login("phone", "two", 1_000), 10);
      expect(one.devicesNow("carol")).toBeUndefined();
      expect((await one.devicesOf("carol")).map((d) => d.deviceID)).toEqual(["phone"]);
      // A look-up that a change message overtook is not kept; once the join's message is in,
      // the next one is.
      while (one.devicesNow("carol") === undefined) await one.devicesOf("carol");
      expect(one.devicesNow("carol")?.map((d) => d.deviceID)).toEqual(["phone"]);
      // Another node's change reaches this one's cache as a message: wait for it to drop.
      await two.join(login("laptop", "two", 2_000), 10);
      while (one.devicesNow("carol") !== undefined)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await one.devicesOf("carol")).map((d) => d.deviceID).sort()).toEqual([
        "laptop",
        "phone",
      ]);
      await two.mark({ userID: "carol", deviceID: "phone" }, "two", 3_000);
      while (one.devicesNow("carol") !== undefined)
        await new Promise((resolve) => setTimeout(resolve, 5));
      const phone = (await one.devicesOf("carol")).find((d) => d.deviceID === "phone");
      expect(phone?.awaySince).toBe(3_000);
      await two.leave({ userID: "carol", deviceID: "phone" }, 1_000);
      while (one.devicesNow("carol") !== undefined)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await one.devicesOf("carol")).map((d) => d.deviceID)).toEqual(["laptop"]);
      // The node that changed them never answers from a copy older than its change.
      expect(two.devicesNow("carol")).toBeUndefined();
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("a node keeps its own sessions alive; a lost node's are taken over as away, once", async () => {
    const prefix = newPrefix();
    const open = (nodeID: string) =>
      RedisPresence.open({ url: redisUrl, prefix, leaseMs: 300, nodeID });
    const [dying, living, other] = await Promise.all([
      open("dying"),
      open("living"),
      open("other"),
    ]);
    const heard: Array<{ by: string; devices: DeviceState[] }> = [];
    let firstHeard: () => void = () => {};
    const takenOver = new Promise<void>((resolve) => {
      firstHeard = resolve;
    });
    for (const [by, node] of [
      ["living", living],
      ["other", other],
    ] as const) {
      node.onNodeLost(async ({ devices }) => {
        heard.push({ by, devices });
        firstHeard();
      });
    }
    try {
      const login = (deviceID: string, nodeID: string, loginTime = 1_000) => ({
        userID: "carl",
        deviceID,
        nodeID,
        loginTime,
        awaySince: 0,
      });
      await dying.join(login("stays-on-dying", "dying"), 10);
      await dying.join(login("moves", "dying"), 10);
      // The device moves to the living node; the dying one must not keep it alive from now on.
      await living.join(login("moves", "living", 2_000), 10);
      await living.join(login("on-living", "living"), 10);
      await dying.close();
      await takenOver;
      const devices = await living.devicesOf("carl");
      const taken = devices.find((d) => d.deviceID === "stays-on-dying");
      expect(taken?.awaySince).toBeGreaterThan(0);
      expect(taken?.loginTime).toBe(1_000);
      expect(heard).toHaveLength(1);
      expect(heard[0]?.devices.map((d) => d.deviceID)).toEqual(["stays-on-dying"]);
      expect(taken?.nodeID).toBe(heard[0]?.by);
      const moved = devices.find((d) => d.deviceID === "moves");
      expect(moved).toMatchObject({ nodeID: "living", awaySince: 0, loginTime: 2_000 });
      // A session nobody touches, joined now, lapsing shows a whole lease has passed since: the
      // sessions older than it are still there only because their nodes renew them.
      const witness = await RedisPresence.open({ url: redisUrl, prefix, leaseMs: 300 });
      await witness.join({ ...login("probe", "nobody"), userID: "probe" }, 10);
      await lapsed(witness, "probe", () => true);
      await witness.close();
      expect((await living.devicesOf("carl")).map((d) => d.deviceID).sort()).toEqual([
        "moves",
        "on-living",
        "stays-on-dying",
      ]);
      expect(heard).toHaveLength(1);
    } finally {
      await Promise.all([dying.close(), living.close(), other.close()]);
    }
  });

  it("a node restarted under its ID takes over the sessions of its last run as away", async () => {
    const prefix = newPrefix();
    const first = await RedisPresence.open({
      url: redisUrl,
      prefix,
      leaseMs: 60_000,
      nodeID: "n1",
    });
    await first.join(
      { userID: "erin", deviceID: "phone", nodeID: "n1", loginTime: 1_000, awaySince: 0 },
      10,
    );
    await first.close();
    const again = await RedisPresence.open({
      url: redisUrl,
      prefix,
      leaseMs: 60_000,
      nodeID: "n1",
    });
    try {
      const heard = new Promise<DeviceState[]>((resolve) => {
        again.onNodeLost(async ({ devices }) => resolve(devices));
      });
      const devices = await heard;
      expect(devices).toHaveLength(1);
      expect(devices[0]).toMatchObject({ userID: "erin", deviceID: "phone", loginTime: 1_000 });
      expect(devices[0]?.awaySince).toBeGreaterThan(0);
      const [stored] = await again.devicesOf("erin");
      expect(stored?.awaySince).toBe(devices[0]?.awaySince);
    } finally {
      await again.close();
    }
  });

  it("after Redis lost its data, each node registers its sessions again", async () => {
    const prefix = newPrefix();
    const open = (nodeID: string) =>
      RedisPresence.open({ url: redisUrl, prefix, leaseMs: 300, nodeID });
    const [one, two] = await Promise.all([open("one"), open("two")]);
    try {
      const login = (deviceID: string, nodeID: string, awaySince = 0) => ({
        userID: "dora",
        deviceID,
        nodeID,
        loginTime: 1_000,
        awaySince,
      });
      await one.join(login("phone", "one"), 10);
      await two.join(login("laptop", "one"), 10);
      // The laptop moved to node two and went away there.
      await two.mark({ userID: "dora", deviceID: "laptop" }, "two", 5_000);
      await dropRedisKeys(prefix);
      expect(await one.devicesOf("dora")).toEqual([]);
      while ((await one.devicesOf("dora")).length < 2)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(
        (await two.devicesOf("dora")).sort((a, b) => a.deviceID.localeCompare(b.deviceID)),
      ).toEqual([login("laptop", "two", 5_000), login("phone", "one")]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("refuses a lease that is not positive", async () => {
    await expect(
      RedisPresence.open({ url: redisUrl, prefix: newPrefix(), leaseMs: 0 }),
    ).rejects.toThrow(/leaseMs must be positive/);
  });
});
