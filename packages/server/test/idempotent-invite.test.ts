// A callInvite may carry an idempotency key: a retry with it (after a lost reply, on any node of
// a cluster) returns the first attempt's outcome instead of making a second call; the SDK sends
// one per invitation and retries with it after a reconnect.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectionState, PROTOCOL_VERSION } from "@beckon/protocol";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { runApikeyCommand } from "../src/cli-apikey.js";
import { postgresUrl, redisUrl, useClusterServices } from "./support/services.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";
import { useWorld } from "./support/world.js";

const world = useWorld();
const services = await useClusterServices();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});

type Reply = { id: number; ok: boolean; data?: { callID: string }; error?: { code: number } };

/** A bare protocol client: logs in, then sends requests and waits for their replies by id. */
async function rawClient(url: string, userID: string) {
  const socket = new WebSocket(url);
  const replies = new Map<number, (reply: Reply) => void>();
  socket.on("message", (raw) => {
    const frame = JSON.parse(String(raw)) as Reply;
    if (typeof frame.id === "number") replies.get(frame.id)?.(frame);
  });
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  let next = 1;
  const request = (op: string, data: object) =>
    new Promise<Reply>((resolve) => {
      const id = next++;
      replies.set(id, resolve);
      socket.send(JSON.stringify({ id, op, data }));
    });
  const token = await world.token(userID);
  const login = await request("login", {
    protocolVersion: PROTOCOL_VERSION,
    userID,
    token,
    deviceID: `${userID}-raw`,
  });
  expect(login.ok).toBe(true);
  return { request, close: () => socket.close() };
}

it("a callInvite retried with its key returns the first call; another key makes another", async () => {
  const server = await world.server();
  const bob = await world.device(server, "bob");
  const alice = await rawClient(server.url, "alice");
  const invite = { invitees: ["bob", "nobody"], timeout: 30, idempotencyKey: "invite-1" };
  const first = await alice.request("callInvite", invite);
  const again = await alice.request("callInvite", invite);
  expect(first.ok).toBe(true);
  expect(again).toEqual({ ...first, id: again.id });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === first.data?.callID);

  // Another invitation (another key) is a new call: here refused, as alice is in the first.
  const other = await alice.request("callInvite", { ...invite, idempotencyKey: "invite-2" });
  expect(other.ok).toBe(false);
  const { callList } = await bob.client.queryCallInvitationList({ count: 10 });
  expect(callList.map((call) => call.callID)).toEqual([first.data?.callID]);
  expect(bob.events("callInvitationReceived")).toHaveLength(1);
  alice.close();
});

it("the SDK sends a callInvite whose reply was lost again after reconnecting: one call, its outcome", async () => {
  const server = await world.server();
  const bob = await world.device(server, "bob");
  const proxy = await startTcpProxy(server.port);
  proxies.push(proxy);
  const alice = await world.device({ url: proxy.url }, "alice");
  const reconnected = alice.waitFor(
    "connectionStateChanged",
    (e) => e.state === ConnectionState.Reconnecting,
  );

  // The request reaches the server; its reply never reaches alice, and then her socket drops.
  proxy.dropReplies();
  const invited = alice.client.callInvite(["bob"], { timeout: 30 });
  const rang = await bob.waitFor("callInvitationReceived");
  proxy.cut();
  await reconnected;

  await expect(invited).resolves.toMatchObject({ callID: rang.callID });
  const { callList } = await bob.client.queryCallInvitationList({ count: 10 });
  expect(callList.map((call) => call.callID)).toEqual([rang.callID]);
  expect(bob.events("callInvitationReceived")).toHaveLength(1);
});

describe.runIf(services.available)("in a cluster", () => {
  it("a retry on another node returns the call the first node made", async () => {
    const schema = services.schema();
    const prefix = services.prefix();
    const options = {
      store: `${postgresUrl}?schema=${schema}`,
      redis: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
    };
    const [one, two] = [await world.server(options), await world.server(options)];
    await world.device(one, "bob");
    const onOne = await rawClient(one.url, "alice");
    const invite = { invitees: ["bob"], timeout: 30, idempotencyKey: "shared-key" };
    const first = await onOne.request("callInvite", invite);
    expect(first.ok).toBe(true);
    onOne.close();
    const onTwo = await rawClient(two.url, "alice");
    const retried = await onTwo.request("callInvite", invite);
    expect(retried.data).toEqual(first.data);
    onTwo.close();
  });
});

it("POST /api/calls retried with its Idempotency-Key (on another node) returns the first call", async () => {
  const store = `${postgresUrl}?schema=${services.schema()}`;
  const redis = `${redisUrl}?prefix=${encodeURIComponent(services.prefix())}`;
  const dir = mkdtempSync(join(tmpdir(), "beckon-idempotent-api-"));
  try {
    const created = await runApikeyCommand(["create", "backend", "--scopes", "write"], {
      dataDir: dir,
      store,
    });
    expect(created.exitCode).toBe(0);
    const key = /bk_[A-Za-z0-9_-]+/.exec(created.output)?.[0] as string;
    const nodes = [
      await world.server({ store, redis, services: { nodeID: "api-1" } }),
      await world.server({ store, redis, services: { nodeID: "api-2" } }),
    ];
    const bob = await world.device(nodes[0] as { url: string }, "bob");
    await world.device(nodes[1] as { url: string }, "alice");
    const create = async (node: number, idempotencyKey?: string) => {
      const response = await fetch(`${nodes[node]?.httpUrl}/api/calls`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
        },
        body: JSON.stringify({ caller: "alice", invitees: ["bob"], timeout: 30 }),
      });
      return { status: response.status, body: (await response.json()) as { callID?: string } };
    };
    const first = await create(0, "order-17");
    expect(first.status).toBe(201);
    expect(await create(1, "order-17")).toEqual(first);
    await bob.waitFor("callInvitationReceived", (e) => e.callID === first.body.callID);
    // Without the key a retry is a new invitation: refused, as alice is in the first call.
    expect((await create(1)).status).not.toBe(201);
    const calls = await fetch(`${nodes[0]?.httpUrl}/api/users/alice/calls`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(((await calls.json()) as { callList: unknown[] }).callList).toHaveLength(1);
    expect(bob.events("callInvitationReceived")).toHaveLength(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
