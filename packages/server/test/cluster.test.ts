// Three nodes in one process, each with its own PostgreSQL pool and Redis connections, exactly
// as separate processes would run them (`store: postgres://…`, `redis: redis://…`): rings
// across nodes, a resume on another node, and a deadline fired once.
import type { Fact } from "@beckon/engine";
import { CallUserState, ConnectionState } from "@beckon/protocol";
import {
  type BeckonServer,
  createServer,
  type Hook,
  RedisPresence,
  RedisStreamBroker,
  type StreamBroker,
} from "@beckon/server";
import { describe, expect, it } from "vitest";
import { dropRedisKeys, postgresUrl, redisUrl, useClusterServices } from "./support/services.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { Device, SECRET, useWorld } from "./support/world.js";

const world = useWorld();
const services = await useClusterServices();
const { available, cleanups } = services;
let lastPrefix = "";

/** Three nodes on one fresh schema and Redis prefix; each node's facts recorded per node. */
async function cluster(options: { heartbeatIntervalMs?: number } = {}) {
  const schema = services.schema();
  const prefix = services.prefix();
  lastPrefix = prefix;
  const facts: Array<{ node: number; fact: Fact; id: string }> = [];
  const nodes = await Promise.all(
    [1, 2, 3].map((node) => {
      const hook: Hook = {
        name: `record-${node}`,
        async onFact(fact, meta) {
          facts.push({ node, fact, id: meta.id });
        },
      };
      return createServer({
        secret: SECRET,
        logLevel: "silent",
        store: `${postgresUrl}?schema=${schema}`,
        redis: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
        ...options,
        services: { hooks: [hook], nodeID: `node-${node}` },
      });
    }),
  );
  cleanups.push(async () => {
    await Promise.all(nodes.map((node) => node.close()));
  });
  return { nodes: nodes as [BeckonServer, BeckonServer, BeckonServer], facts };
}

describe.runIf(available)("cluster on PostgreSQL and Redis", () => {
  it("a ring from node 1 reaches devices on nodes 2 and 3; an accept on 3 stops node 2's", async () => {
    const { nodes } = await cluster();
    const alice = await world.device(nodes[0], "alice");
    const bobOn2 = await world.device(nodes[1], "bob", { deviceID: "bob-2" });
    const bobOn3 = await world.device(nodes[2], "bob", { deviceID: "bob-3" });
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
    await bobOn2.waitFor("callInvitationReceived", (e) => e.callID === callID);
    await bobOn3.waitFor("callInvitationReceived", (e) => e.callID === callID);
    await bobOn3.client.callAccept(callID, {});
    const bobAccepted = (e: {
      callID: string;
      callUserList: { userID: string; state: number }[];
    }) =>
      e.callID === callID &&
      e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted);
    await bobOn2.waitFor("callUserStateChanged", bobAccepted);
    await alice.waitFor("callUserStateChanged", bobAccepted);
    expect(bobOn2.events("callInvitationReceived", callID)).toHaveLength(1);
    expect(bobOn3.events("callInvitationReceived", callID)).toHaveLength(1);
    // The call list is the same from every node.
    const lists = await Promise.all(
      [nodes[0], nodes[1], nodes[2]].map(async (node) => {
        const device = await world.device(node, "bob", { deviceID: `lister-${node.port}` });
        const { callList } = await device.client.queryCallInvitationList({ count: 10 });
        return callList.map((call) => call.callID);
      }),
    );
    expect(lists).toEqual([[callID], [callID], [callID]]);
  });

  it("a device cut from node 1 resumes on node 2 with no gap and no duplicate", async () => {
    const { nodes } = await cluster({ heartbeatIntervalMs: 60_000 });
    const proxy = await startTcpProxy(nodes[0].port);
    cleanups.push(() => proxy.close());
    const host = await world.device(nodes[2], "host");
    const steady = await world.device(nodes[2], "watcher", { deviceID: "steady" });
    const mover = new Device("watcher", world.client(proxy.url, "mover"));
    await mover.client.login("watcher", { token: await world.token("watcher") });
    const players = await Promise.all(["p1", "p2"].map((u) => world.device(nodes[1], u)));

    const { callID } = await host.client.callInvite(["watcher"], { mode: 1, timeout: 600 });
    await mover.waitFor("callInvitationReceived", (e) => e.callID === callID);
    proxy.retarget(nodes[1].port);
    const since = mover.log.length;
    const invited = host.client.callingInvite(["p1", "p2"], callID, {});
    proxy.cut();
    await invited;
    await (players[0] as Device).client.callAccept(callID, {});
    await mover.waitFor(
      "connectionStateChanged",
      (e) =>
        e.state === ConnectionState.Connected && mover.log.findIndex((x) => x.data === e) >= since,
    );
    await (players[1] as Device).client.callReject(callID, {});
    const lastWord = (d: Device) =>
      d.waitFor(
        "callUserStateChanged",
        (e) =>
          e.callID === callID &&
          e.callUserList.some((u) => u.userID === "p2" && u.state === CallUserState.Rejected),
      );
    await lastWord(steady);
    await lastWord(mover);
    const resumed = mover
      .events("connectionStateChanged")
      .filter((e) => e.extendedData.includes('"resumed":true'));
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    const ofCall = (d: Device) =>
      d.log
        .filter((entry) => (entry.data as { callID?: string }).callID === callID)
        .map((entry) => `${entry.name} ${JSON.stringify(entry.data)}`);
    expect(ofCall(mover)).toEqual(ofCall(steady));
  });

  it("a deadline fires once with three nodes claiming: one timeout fact per invitee", async () => {
    const { nodes, facts } = await cluster();
    const alice = await world.device(nodes[0], "alice");
    const bob = await world.device(nodes[1], "bob");
    const carol = await world.device(nodes[2], "carol");
    const { callID } = await alice.client.callInvite(["bob", "carol"], { timeout: 1 });
    await bob.waitFor("callInvitationTimeout", (e) => e.callID === callID);
    await carol.waitFor("callInvitationTimeout", (e) => e.callID === callID);
    await alice.waitFor(
      "callUserStateChanged",
      (e) =>
        e.callID === callID &&
        e.callUserList.some((u) => u.userID === "carol" && u.state === CallUserState.Timeout),
    );
    expect(bob.events("callInvitationTimeout", callID)).toHaveLength(1);
    expect(carol.events("callInvitationTimeout", callID)).toHaveLength(1);
    await expect
      .poll(() => facts.filter((f) => f.fact.callID === callID && f.fact.kind === "call.ended"))
      .toHaveLength(1);
    const timedOut = facts.filter(
      (f) => f.fact.callID === callID && f.fact.kind === "member.timedOut",
    );
    // Each timeout decided once, and relayed by one node only.
    expect(new Set(timedOut.map((f) => f.id)).size).toBe(2);
    expect(timedOut).toHaveLength(2);
  });

  it("after Redis lost its data, connected devices resync and still ring", async () => {
    // Short heartbeats: presence leases (three of them) and their renewal come round quickly.
    const { nodes } = await cluster({ heartbeatIntervalMs: 1_000 });
    const alice = await world.device(nodes[0], "alice");
    const bob = await world.device(nodes[1], "bob");
    const { callID: before } = await alice.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === before);
    await alice.client.callCancel(["bob"], before, {});
    await bob.waitFor("callInvitationCancelled", (e) => e.callID === before);
    await dropRedisKeys(lastPrefix);
    // Each node puts its sessions back once it notices; then rings reach them again.
    const watcher = await RedisPresence.open({ url: redisUrl, prefix: lastPrefix });
    try {
      while ((await watcher.devicesOf("bob")).length === 0)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await watcher.close();
    }
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    expect(bob.events("callInvitationReceived", callID)).toHaveLength(1);
  });

  it("a node lost between committing a ring and publishing it: the invitee still rings, once", async () => {
    const schema = services.schema();
    const prefix = services.prefix();
    const redis = `${redisUrl}?prefix=${encodeURIComponent(prefix)}`;
    const store = `${postgresUrl}?schema=${schema}`;
    // The doomed node: its ring is committed, then its publish fails as if the process had
    // died right there; then it stops renewing its presence, as a dead node would.
    const broker = await RedisStreamBroker.open({ url: redisUrl, prefix });
    const stuck: StreamBroker = Object.assign(Object.create(broker) as StreamBroker, {
      publish: async (batch: Parameters<StreamBroker["publish"]>[0]) => {
        if (batch.some((p) => p.payload.includes('"callInvitationReceived"')))
          throw new Error("the node died before publishing");
        return broker.publish(batch);
      },
    });
    const presence = await RedisPresence.open({
      url: redisUrl,
      prefix,
      leaseMs: 1_500,
      nodeID: "doomed",
    });
    const doomed = await createServer({
      secret: SECRET,
      logLevel: "silent",
      store,
      redis,
      services: { broker: stuck, presence, nodeID: "doomed" },
    });
    const survivor = await createServer({
      secret: SECRET,
      logLevel: "silent",
      store,
      redis,
      heartbeatIntervalMs: 1_000,
      services: { nodeID: "survivor" },
    });
    cleanups.push(async () => {
      await Promise.all([doomed.close(), survivor.close()]);
      await Promise.all([presence.close(), broker.close()]);
    });
    const alice = await world.device(doomed, "alice");
    const bob = await world.device(survivor, "bob");
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
    // The doomed node goes quiet; the survivor notices and makes the call's devices resync.
    await presence.close();
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID, 15_000);
    expect(bob.events("callInvitationReceived", callID)).toHaveLength(1);
    await bob.client.callAccept(callID, {});
  });

  it("a node cut from Redis hands its devices to the others, where their calls ring", async () => {
    const schema = services.schema();
    const prefix = services.prefix();
    const target = new URL(redisUrl);
    // The first node reaches Redis through a cable the test can pull.
    const cable = await startTcpProxy(Number(target.port || 6379));
    cleanups.push(() => cable.close());
    const via = (port: string) =>
      `redis://${target.hostname}:${port}?prefix=${encodeURIComponent(prefix)}`;
    const nodes = await Promise.all(
      [new URL(cable.url).port, target.port || "6379", target.port || "6379"].map((port, i) =>
        createServer({
          secret: SECRET,
          logLevel: "silent",
          store: `${postgresUrl}?schema=${schema}`,
          redis: via(port),
          services: { nodeID: `node-${i + 1}` },
        }),
      ),
    );
    cleanups.push(async () => {
      await Promise.all(nodes.map((node) => node.close()));
    });
    // Closing needs Redis back for the first node's goodbyes.
    cleanups.push(async () => cable.up());
    const [cut, healthy, other] = nodes as [BeckonServer, BeckonServer, BeckonServer];
    const balancer = await startTcpProxy(cut.port);
    cleanups.push(() => balancer.close());
    const alice = new Device("alice", world.client(balancer.url, "alice-phone"));
    await alice.client.login("alice", { token: await world.token("alice") });
    const bob = await world.device(other, "bob");
    const since = alice.log.length;
    // The balancer's health check takes the node out of the pool once it turns devices away.
    balancer.retarget(healthy.port);
    cable.down();
    await alice.waitFor(
      "connectionStateChanged",
      (e) =>
        e.state === ConnectionState.Connected && alice.log.findIndex((x) => x.data === e) > since,
      15_000,
    );
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  });

  it("refuses cluster mode on a SQLite store, opening nothing", async () => {
    await expect(
      createServer({ secret: SECRET, logLevel: "silent", redis: redisUrl }),
    ).rejects.toThrow(/needs a postgres/);
  });
});
