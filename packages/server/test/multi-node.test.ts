// Three nodes in one process over one store, stream broker, presence and timer source, as
// separate processes would share PostgreSQL and Redis: any node serves any device.
import type { Fact } from "@beckon/engine";
import { CallUserState, ConnectionState } from "@beckon/protocol";
import {
  type BeckonServer,
  createServer,
  type Hook,
  LocalTimerSource,
  MemoryPresence,
  MemoryStreamBroker,
  SqliteCallStore,
} from "@beckon/server";
import { afterEach, expect, it } from "vitest";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { Device, SECRET, useWorld } from "./support/world.js";

const world = useWorld();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Three nodes sharing every service; each node's facts are recorded per node. */
async function cluster(options: { heartbeatIntervalMs?: number } = {}) {
  const store = new SqliteCallStore(":memory:");
  const broker = new MemoryStreamBroker();
  const presence = new MemoryPresence();
  const timers = new LocalTimerSource(store);
  const facts: Array<{ node: number; fact: Fact; id: string }> = [];
  const nodes: BeckonServer[] = [];
  for (let node = 1; node <= 3; node++) {
    const hook: Hook = {
      name: `record-${node}`,
      async onFact(fact, meta) {
        facts.push({ node, fact, id: meta.id });
      },
    };
    nodes.push(
      await createServer({
        secret: SECRET,
        logLevel: "silent",
        ...options,
        services: { store, broker, presence, timers, hooks: [hook], nodeID: `node-${node}` },
      }),
    );
  }
  cleanups.push(async () => {
    await Promise.all(nodes.map((node) => node.close()));
    await broker.close();
    await presence.close();
    await store.close();
  });
  return { nodes: nodes as [BeckonServer, BeckonServer, BeckonServer], facts, store };
}

it("a ring from node 1 reaches devices on nodes 2 and 3; an accept on 3 stops the ringing on 2", async () => {
  const { nodes } = await cluster();
  const alice = await world.device(nodes[0], "alice");
  const bobOn2 = await world.device(nodes[1], "bob", { deviceID: "bob-2" });
  const bobOn3 = await world.device(nodes[2], "bob", { deviceID: "bob-3" });
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
  await bobOn2.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await bobOn3.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await bobOn3.client.callAccept(callID, {});
  // The other device's last word: bob is Accepted, so it stops ringing.
  await bobOn2.waitFor(
    "callUserStateChanged",
    (e) =>
      e.callID === callID &&
      e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted),
  );
  await alice.waitFor(
    "callUserStateChanged",
    (e) =>
      e.callID === callID &&
      e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted),
  );
  expect(bobOn2.events("callInvitationReceived", callID)).toHaveLength(1);
  expect(bobOn3.events("callInvitationReceived", callID)).toHaveLength(1);
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
  // Cut while events are in flight, and come back through node 2.
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

it("a deadline fires once with three nodes running: one timeout fact per invitee", async () => {
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
  // Facts of the call, by idempotency key: each timeout decided once.
  await expect
    .poll(() => facts.filter((f) => f.fact.callID === callID && f.fact.kind === "call.ended"))
    .not.toHaveLength(0);
  const timedOut = new Set(
    facts
      .filter((f) => f.fact.callID === callID && f.fact.kind === "member.timedOut")
      .map((f) => f.id),
  );
  expect(timedOut.size).toBe(2);
});
