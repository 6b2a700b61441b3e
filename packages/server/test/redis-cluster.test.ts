// Beckon on a Redis Cluster: three masters started on loopback ports by this file (and stopped
// after), two nodes on them and PostgreSQL. Rings, receipts and accepts cross nodes while the
// users' keys sit on different masters; the streams, presence (with its cache) and rate limits
// each keep a user's keys in one slot, and fan-out uses sharded channels.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CallUserState } from "@beckon/protocol";
import {
  type BeckonServer,
  createServer,
  RedisPresence,
  RedisRateLimits,
  RedisStreamBroker,
} from "@beckon/server";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamOf } from "../src/streams/stream-broker.js";
import { postgresUrl, useClusterServices } from "./support/services.js";
import { SECRET, useWorld } from "./support/world.js";

const run = promisify(execFile);
const world = useWorld();
const services = await useClusterServices();

async function haveRedisServer(): Promise<boolean> {
  try {
    await run("redis-server", ["--version"]);
    await run("redis-cli", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

const present = await haveRedisServer();
if (!present && process.env.CI === "true")
  throw new Error("redis-server and redis-cli are needed for the Redis Cluster test under CI");
if (!present)
  console.warn("Redis Cluster test skipped: redis-server or redis-cli is not installed");

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Three masters, slots split by `redis-cli --cluster create`, each in its own directory. */
async function startCluster() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-redis-cluster-"));
  const ports: number[] = [];
  const processes: ChildProcess[] = [];
  for (let i = 0; i < 3; i++) {
    // Cluster bus ports are the port + 10000: keep both free.
    let port = await freePort();
    while (port > 55_000) port = await freePort();
    ports.push(port);
    processes.push(
      spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(dir, `nodes-${port}.conf`),
          "--dir",
          dir,
          "--save",
          "",
          "--appendonly",
          "no",
        ],
        { stdio: "ignore" },
      ),
    );
  }
  const stop = async () => {
    await Promise.all(
      processes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      for (;;) {
        const answer = await run("redis-cli", ["-p", String(port), "ping"]).catch(() => null);
        if (answer?.stdout.trim() === "PONG") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    for (const port of ports) {
      for (;;) {
        const { stdout } = await run("redis-cli", ["-p", String(port), "cluster", "info"]);
        if (stdout.includes("cluster_state:ok")) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://127.0.0.1:${ports[0]}?cluster=1`, ports, stop };
}

describe.runIf(present && services.available)("on a three-master Redis Cluster", () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let admin: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
    admin = new Cluster([{ host: "127.0.0.1", port: cluster.ports[0] as number }]);
  }, 60_000);
  afterAll(async () => {
    await admin?.quit();
    await cluster?.stop();
  });

  /** Which master serves a key. */
  async function masterOf(key: string): Promise<string> {
    const slot = (await admin.cluster("KEYSLOT", key)) as number;
    const slots = await admin.cluster("SLOTS");
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    return `${range?.[2]?.[1]}`;
  }

  it("users whose keys live on different masters ring, receive and accept across two nodes", async () => {
    const schema = services.schema();
    const url = `${cluster.url}&prefix=rc:`;
    const nodes: BeckonServer[] = [];
    for (const n of [1, 2]) {
      nodes.push(
        await createServer({
          secret: SECRET,
          logLevel: "silent",
          store: `${postgresUrl}?schema=${schema}`,
          redis: url,
          services: { nodeID: `rc-node-${n}` },
        }),
      );
    }
    services.cleanups.push(async () => {
      await Promise.all(nodes.map((node) => node.close()));
    });
    const [one, two] = nodes as [BeckonServer, BeckonServer];
    // Callers whose streams sit on other masters than the callee's.
    const callee = "bob";
    const calleeMaster = await masterOf(`rc:{${callee}}m`);
    const callers: string[] = [];
    for (let i = 0; callers.length < 3; i++)
      if ((await masterOf(`rc:{caller-${i}}m`)) !== calleeMaster) callers.push(`caller-${i}`);
    const bobHere = await world.device(one, callee, { deviceID: "bob-1" });
    const bobThere = await world.device(two, callee, { deviceID: "bob-2" });
    for (const [round, caller] of callers.entries()) {
      const from = await world.device(round % 2 === 0 ? one : two, caller);
      const { callID } = await from.client.callInvite([callee], { timeout: 60 });
      await bobHere.waitFor("callInvitationReceived", (e) => e.callID === callID);
      await bobThere.waitFor("callInvitationReceived", (e) => e.callID === callID);
      await bobThere.client.callAccept(callID, {});
      const accepted = (e: { callID: string; callUserList: { userID: string; state: number }[] }) =>
        e.callID === callID &&
        e.callUserList.some((u) => u.userID === callee && u.state === CallUserState.Accepted);
      await from.waitFor("callUserStateChanged", accepted);
      await bobHere.waitFor("callUserStateChanged", accepted);
      expect(bobHere.events("callInvitationReceived", callID)).toHaveLength(1);
      expect(bobThere.events("callInvitationReceived", callID)).toHaveLength(1);
    }
  });

  it("streams, presence and rate limits keep each user's keys in one slot", async () => {
    const prefix = "parts:";
    const url = `${cluster.url}`;
    const [one, two] = await Promise.all([
      RedisStreamBroker.open({ url, prefix }),
      RedisStreamBroker.open({ url, prefix }),
    ]);
    const presence = await RedisPresence.open({ url, prefix, nodeID: "parts-node" });
    const other = await RedisPresence.open({ url, prefix });
    const limits = await RedisRateLimits.open({
      url,
      prefix,
      limits: {
        requests: { burst: 2, perSecond: 1 },
        logins: { burst: 2, perSecond: 1 },
        api: { burst: 2, perSecond: 1 },
      },
    });
    try {
      const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
      const masters = new Set(await Promise.all(users.map((u) => masterOf(`${prefix}{${u}}m`))));
      expect(masters.size).toBe(3);
      const heard: string[] = [];
      two.subscribe(
        (stream, entry) => heard.push(`${stream}:${entry.offset}:${entry.payload}`),
        () => {},
      );
      for (const user of users) await two.position(streamOf(user, "d"));
      // One batch over every master: one script per user, each in its slot.
      await one.publish(users.map((user) => ({ stream: streamOf(user, "d"), payload: "a" })));
      await one.publish(users.map((user) => ({ stream: streamOf(user, "d"), payload: "b" })));
      while (heard.length < 2 * users.length) await new Promise((r) => setTimeout(r, 10));
      for (const user of users)
        expect(heard.filter((h) => h.startsWith(streamOf(user, "d")))).toEqual([
          `${streamOf(user, "d")}:1:a`,
          `${streamOf(user, "d")}:2:b`,
        ]);
      for (const user of users.slice(0, 3)) {
        await presence.join(
          { userID: user, deviceID: "d", nodeID: "parts-node", loginTime: 1, awaySince: 0 },
          5,
        );
        expect((await other.devicesOf(user)).map((d) => d.deviceID)).toEqual(["d"]);
      }
      await presence.leave({ userID: "user-0", deviceID: "d" }, 1);
      while (other.devicesNow("user-0") !== undefined) await new Promise((r) => setTimeout(r, 10));
      expect(await other.devicesOf("user-0")).toEqual([]);
      const taken = [];
      for (let i = 0; i < 3; i++) taken.push(await limits.take("requests", "user-5"));
      expect(taken).toEqual([true, true, false]);
    } finally {
      await Promise.all([
        one.close(),
        two.close(),
        presence.close(),
        other.close(),
        limits.close(),
      ]);
    }
  });
});
