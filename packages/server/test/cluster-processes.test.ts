// Three node processes on PostgreSQL and Redis behind TCP relays (the load balancer): `kill -9`
// of one node under load loses no call, acknowledged change or deadline, fires no deadline twice,
// and the dead node's devices resume on another node with no gap and no duplicate; a rolling
// restart of every node cancels no call for a lost caller.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CallUserState, ConnectionState, ErrorCode } from "@beckon/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  dropRedisKeys,
  havePostgres,
  haveRedis,
  postgresSchemas,
  postgresUrl,
  redisUrl,
  uniqueName,
} from "./support/services.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";
import { type Device, SECRET, useWorld } from "./support/world.js";

const entry = new URL("../dist/index.js", import.meta.url).href;
const available = (await havePostgres()) && (await haveRedis());
const schemas = postgresSchemas();
const prefixes: string[] = [];
const world = useWorld();
const children: ChildProcess[] = [];
const proxies: TcpProxy[] = [];

beforeAll(() => {
  if (available && !existsSync(fileURLToPath(entry)))
    throw new Error("packages/server/dist is missing: run `npm run build` first");
});
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
  for (const child of children.splice(0)) await stop(child, "SIGKILL");
});
afterAll(async () => {
  if (!available) return;
  await schemas.dropAll();
  for (const prefix of prefixes) await dropRedisKeys(prefix);
});

// A node process: createServer from the built package, on the shared database and Redis.
const nodeScript = `
const { createServer } = await import(process.env.BECKON_ENTRY);
const server = await createServer({
  secret: process.env.BECKON_SECRET,
  host: "127.0.0.1",
  port: 0,
  store: process.env.BECKON_STORE,
  redis: process.env.BECKON_REDIS,
  callerGraceMs: Number(process.env.BECKON_CALLER_GRACE_MS),
  heartbeatIntervalMs: Number(process.env.BECKON_HEARTBEAT_MS),
  logLevel: "silent",
  services: { nodeID: process.env.BECKON_NODE_ID },
});
process.stdout.write("listening " + server.port + "\\n");
process.once("SIGTERM", () => server.close().then(() => process.exit(0)));
`;

async function startNode(
  nodeID: string,
  store: string,
  redis: string,
  callerGraceMs = 30_000,
  heartbeatMs = 10_000,
) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", nodeScript], {
    env: {
      ...process.env,
      BECKON_ENTRY: entry,
      BECKON_SECRET: SECRET,
      BECKON_STORE: store,
      BECKON_REDIS: redis,
      BECKON_NODE_ID: nodeID,
      BECKON_CALLER_GRACE_MS: String(callerGraceMs),
      BECKON_HEARTBEAT_MS: String(heartbeatMs),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`node exited early (${code}): ${output}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

type Promised = { callID: string; userID: string; state: CallUserState };

describe.runIf(available)("cluster processes", () => {
  it("kill -9 of a node under load loses nothing and fires no deadline twice", async () => {
    const store = `${postgresUrl}?schema=${schemas.create()}`;
    const prefix = `${uniqueName("beckon-test")}:`;
    prefixes.push(prefix);
    const redis = `${redisUrl}?prefix=${encodeURIComponent(prefix)}`;
    const [victim, second, third] = await Promise.all(
      ["node-a", "node-b", "node-c"].map((id) => startNode(id, store, redis)),
    );
    if (!victim || !second || !third) throw new Error("nodes did not start");
    // Devices reach the victim through the balancer, which sends them elsewhere once it is gone.
    const balancer = await startTcpProxy(victim.port);
    proxies.push(balancer);
    const viaBalancer = { url: balancer.url };
    const onSecond = { url: `ws://127.0.0.1:${second.port}/ws` };
    const onThird = { url: `ws://127.0.0.1:${third.port}/ws` };

    // Deadlines the victim sets and never gets to fire.
    const waiting = await Promise.all(
      [0, 1, 2].map(async (i) => ({
        caller: await world.device(viaBalancer, `waiter${i}`),
        callee: await world.device(onThird, `waited${i}`),
      })),
    );
    const deadlines = await Promise.all(
      waiting.map(async ({ caller, callee }) => ({
        callID: (await caller.client.callInvite([callee.userID], { timeout: 8 })).callID,
        caller,
        callee,
      })),
    );

    // Every device of the deadline calls heard of them before the crash.
    for (const { callID, callee } of deadlines)
      await callee.waitFor("callInvitationReceived", (e) => e.callID === callID);

    // Traffic: callers on the third node, the callee answering from the second; a passive
    // device of each callee sits on the victim, and its twin on the third sees the same stream.
    const PAIRS = 5;
    const ROUNDS = 8;
    const pairs = await Promise.all(
      Array.from({ length: PAIRS }, async (_, i) => ({
        caller: await world.device(onThird, `caller${i}`),
        answerer: await world.device(onSecond, `callee${i}`, { deviceID: "answers" }),
        mover: await world.device(viaBalancer, `callee${i}`, { deviceID: "moves" }),
        watcher: await world.device(onThird, `callee${i}`, { deviceID: "watches" }),
      })),
    );
    const promised: Promised[] = [];
    let killed: Promise<void> | undefined;
    const crashAfter = PAIRS * 3;
    const note = (entry: Promised) => {
      promised.push(entry);
      if (promised.length === crashAfter) {
        killed = (async () => {
          await stop(victim.child, "SIGKILL");
          balancer.retarget(second.port);
          balancer.cut();
        })();
      }
    };
    await Promise.all(
      pairs.map(async ({ caller, answerer }, i) => {
        for (let round = 0; round < ROUNDS; round++) {
          let callID: string;
          try {
            ({ callID } = await caller.client.callInvite([answerer.userID], { timeout: 20 }));
          } catch (error) {
            // A lost reply can leave the caller in a call it does not know of (busy).
            if ((error as { code: number }).code === ErrorCode.CallCommonError) return;
            continue;
          }
          note({ callID, userID: caller.userID, state: CallUserState.Accepted });
          await answerer.waitFor("callInvitationReceived", (e) => e.callID === callID);
          const state = (round + i) % 2 === 0 ? CallUserState.Accepted : CallUserState.Rejected;
          try {
            if (state === CallUserState.Accepted) {
              await answerer.client.callAccept(callID, {});
              note({ callID, userID: answerer.userID, state });
              await caller.client.callQuit(callID, {});
              note({ callID, userID: caller.userID, state: CallUserState.Quit });
            } else {
              await answerer.client.callReject(callID, {});
              note({ callID, userID: answerer.userID, state });
            }
          } catch {
            // In flight at the crash: the outcome is unknown, so nothing was promised.
          }
        }
      }),
    );
    expect(killed, "the crash happened during the traffic").toBeDefined();
    await killed;

    // The victim's deadlines fire on the survivors, once each.
    for (const { callID, callee } of deadlines)
      await callee.waitFor("callInvitationTimeout", (e) => e.callID === callID, 20_000);
    for (const { callID, callee } of deadlines)
      expect(callee.events("callInvitationTimeout", callID)).toHaveLength(1);

    // Every promised state is in the database, as any node tells it.
    const connected = (device: Device) =>
      device.client.connectionState === ConnectionState.Connected
        ? Promise.resolve()
        : device
            .waitFor("connectionStateChanged", (e) => e.state === ConnectionState.Connected)
            .then(() => undefined);
    const stored = new Map<string, Map<string, number>>();
    for (const { caller } of pairs) {
      await connected(caller);
      const { callList } = await caller.client.queryCallInvitationList({ count: 100 });
      for (const call of callList)
        stored.set(call.callID, new Map(call.callUserList.map((u) => [u.userID, u.state])));
    }
    expect(promised.length).toBeGreaterThan(crashAfter);
    for (const { callID, userID, state } of promised)
      expect(stored.get(callID)?.get(userID), `${callID} ${userID}`).toBe(state);

    // A device that was on the victim resumed elsewhere and saw exactly what its twin saw.
    const ofCalls = (d: Device) =>
      d.log
        .filter((entry) => (entry.data as { callID?: string }).callID !== undefined)
        .map((entry) => `${entry.name} ${JSON.stringify(entry.data)}`);
    for (const { mover, watcher, caller } of pairs) {
      await connected(mover);
      // The last word of each pair's traffic reached both before comparing.
      const last = promised.filter((p) => p.userID === caller.userID).at(-1);
      if (last) {
        await watcher.waitFor("callUserStateChanged", (e) => e.callID === last.callID);
        await mover.waitFor("callUserStateChanged", (e) => e.callID === last.callID);
      }
      expect(ofCalls(mover)).toEqual(ofCalls(watcher));
    }
  }, 120_000);

  it("kill -9 of the node a caller was on: another node notices, and the lost caller's call is cancelled", async () => {
    const store = `${postgresUrl}?schema=${schemas.create()}`;
    const prefix = `${uniqueName("beckon-test")}:`;
    prefixes.push(prefix);
    const redis = `${redisUrl}?prefix=${encodeURIComponent(prefix)}`;
    // Short heartbeats make short leases (3 s), so the lost node is noticed within seconds.
    const graceMs = 1_000;
    const [victim, survivor] = await Promise.all(
      ["node-a", "node-b"].map((id) => startNode(id, store, redis, graceMs, 1_000)),
    );
    if (!victim || !survivor) throw new Error("nodes did not start");
    const caller = await world.device({ url: `ws://127.0.0.1:${victim.port}/ws` }, "stranded");
    const callee = await world.device({ url: `ws://127.0.0.1:${survivor.port}/ws` }, "waiting");
    const { callID } = await caller.client.callInvite(["waiting"], { timeout: 120 });
    await callee.waitFor("callInvitationReceived", (e) => e.callID === callID);
    // The caller's app keeps knocking at the dead node's address: it never comes back.
    await stop(victim.child, "SIGKILL");
    const cancelled = await callee.waitFor(
      "callInvitationCancelled",
      (e) => e.callID === callID,
      30_000,
    );
    expect(cancelled.inviter).toBe("stranded");
    expect(callee.events("callInvitationCancelled", callID)).toHaveLength(1);
  }, 60_000);

  it("a rolling restart of every node cancels no call for a lost caller", async () => {
    const store = `${postgresUrl}?schema=${schemas.create()}`;
    const prefix = `${uniqueName("beckon-test")}:`;
    prefixes.push(prefix);
    const redis = `${redisUrl}?prefix=${encodeURIComponent(prefix)}`;
    // A short grace, so a caller wrongly taken for lost would see its calls cancelled quickly.
    const graceMs = 1_500;
    const nodes = await Promise.all(
      ["node-a", "node-b", "node-c"].map((id) => startNode(id, store, redis, graceMs)),
    );
    // One balancer entry per node; a node being restarted is taken out of the pool first.
    const balancers = await Promise.all(nodes.map((node) => startTcpProxy(node.port)));
    proxies.push(...balancers);
    const entries = balancers.map((balancer) => ({ url: balancer.url }));
    const ringing = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const caller = await world.device(entries[i] as { url: string }, `roller${i}`);
        const callee = await world.device(entries[(i + 1) % 3] as { url: string }, `rolled${i}`);
        const { callID } = await caller.client.callInvite([callee.userID], { timeout: 120 });
        await callee.waitFor("callInvitationReceived", (e) => e.callID === callID);
        return { caller, callee, callID };
      }),
    );
    for (let i = 0; i < 3; i++) {
      const old = nodes[i] as { child: ChildProcess; port: number };
      const balancer = balancers[i] as TcpProxy;
      balancer.retarget((nodes[(i + 1) % 3] as { port: number }).port);
      await stop(old.child, "SIGTERM");
      const fresh = await startNode(`node-${i}-again`, store, redis, graceMs);
      nodes[i] = fresh;
      balancer.retarget(fresh.port);
    }
    // A caller that really is lost, after the last restart: once its call is cancelled, a
    // whole grace period has passed for everyone else too.
    const cable = await startTcpProxy((nodes[0] as { port: number }).port);
    proxies.push(cable);
    const witness = await world.device({ url: cable.url }, "witness");
    const watched = await world.device(entries[1] as { url: string }, "watched");
    const { callID: witnessCall } = await witness.client.callInvite(["watched"], { timeout: 120 });
    await watched.waitFor("callInvitationReceived", (e) => e.callID === witnessCall);
    cable.down();
    await watched.waitFor("callInvitationCancelled", (e) => e.callID === witnessCall, 15_000);
    for (const { callee, callID } of ringing) {
      expect(callee.events("callInvitationCancelled", callID)).toEqual([]);
      await callee.client.callAccept(callID, {});
    }
    for (const { caller, callee, callID } of ringing) {
      await caller.waitFor(
        "callUserStateChanged",
        (e) =>
          e.callID === callID &&
          e.callUserList.some(
            (u) => u.userID === callee.userID && u.state === CallUserState.Accepted,
          ),
      );
    }
  }, 120_000);
});
