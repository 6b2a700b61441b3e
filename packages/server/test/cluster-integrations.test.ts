// The integrations in a cluster: two nodes on one PostgreSQL schema and one Redis prefix share
// API keys, push registrations and the webhook queue, as separate processes would. A node that
// stops leaves nothing behind that the other does not pick up.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BeckonServer, createServer } from "@beckon/server";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { runApikeyCommand } from "../src/cli-apikey.js";
import { HttpReceiver } from "./support/http-receiver.js";
import { postgresUrl, redisUrl, useClusterServices } from "./support/services.js";
import { SECRET } from "./support/world.js";

const services = await useClusterServices();
const { available, cleanups } = services;

async function receiver(): Promise<HttpReceiver> {
  const started = await new HttpReceiver().start();
  cleanups.push(() => started.stop());
  return started;
}

interface Cluster {
  nodes: [BeckonServer, BeckonServer];
  schema: string;
  /** An admin key made the way an operator would: `beckon apikey create --store postgres://…`. */
  adminKey: string;
}

/** Two nodes on a fresh schema and Redis prefix, pushing through `pushGateway` when given. */
async function cluster(pushGateway?: HttpReceiver): Promise<Cluster> {
  const schema = services.schema();
  const store = `${postgresUrl}?schema=${schema}`;
  const prefix = services.prefix();
  const dir = mkdtempSync(join(tmpdir(), "beckon-cluster-integrations-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const created = await runApikeyCommand(["create", "ops", "--scopes", "admin"], {
    dataDir: dir,
    store,
  });
  expect(created.exitCode).toBe(0);
  const adminKey = /bk_[A-Za-z0-9_-]+/.exec(created.output)?.[0] as string;
  const nodes = await Promise.all(
    [1, 2].map((node) =>
      createServer({
        secret: SECRET,
        logLevel: "silent",
        store,
        redis: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
        ...(pushGateway
          ? {
              push: {
                http: {
                  url: pushGateway.url,
                  secret: `whsec_${randomBytes(24).toString("base64")}`,
                },
              },
            }
          : {}),
        services: { nodeID: `node-${node}` },
      }),
    ),
  );
  // close() is idempotent: a test may stop a node early.
  cleanups.push(async () => {
    await Promise.all(nodes.map((node) => node.close()));
  });
  return { nodes: nodes as [BeckonServer, BeckonServer], schema, adminKey };
}

/** A request to a node's server API with `key`. */
async function api(
  node: BeckonServer,
  key: string,
  path: string,
  body?: unknown,
  method = body === undefined ? "GET" : "POST",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${node.httpUrl}/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** A query on the cluster's schema, for what the API does not show (who holds a delivery). */
async function query<Row extends pg.QueryResultRow>(schema: string, text: string): Promise<Row[]> {
  const client = new pg.Client({
    connectionString: postgresUrl,
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

describe.runIf(available)("integrations shared by a cluster", () => {
  it("the nodes sign Web Push with one VAPID pair from PostgreSQL, not one per data folder", async () => {
    const schema = services.schema();
    const store = `${postgresUrl}?schema=${schema}`;
    const prefix = services.prefix();
    const dirs = [1, 2, 3].map(() => mkdtempSync(join(tmpdir(), "beckon-cluster-vapid-")));
    cleanups.push(() => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });
    // Node 1 was a single node before: its vapid.json becomes the cluster's pair, so browsers
    // subscribed to it keep getting pushes.
    const before = { publicKey: "BExisting", privateKey: "existing-private" };
    writeFileSync(join(dirs[0] as string, "vapid.json"), JSON.stringify(before));
    const start = (dir: string, node: number) =>
      createServer({
        secret: SECRET,
        logLevel: "silent",
        store,
        redis: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
        push: { webPush: { subject: "mailto:ops@example.com" }, vapidDir: dir },
        services: { nodeID: `vapid-${node}` },
      });
    const first = await start(dirs[0] as string, 1);
    cleanups.push(() => first.close());
    const others = await Promise.all([start(dirs[1] as string, 2), start(dirs[2] as string, 3)]);
    cleanups.push(async () => {
      await Promise.all(others.map((node) => node.close()));
    });
    for (const node of [first, ...others]) {
      const response = await fetch(`${node.httpUrl}/api/push/web-push-key`);
      expect(await response.json()).toEqual({ publicKey: before.publicKey });
    }
    // Nothing in the other nodes' data folders: the pair is the database's.
    expect(existsSync(join(dirs[1] as string, "vapid.json"))).toBe(false);
    const rows = await query<{ name: string }>(schema, "SELECT name FROM shared_secrets");
    expect(rows).toEqual([{ name: "vapid" }]);
  });

  it("an API key created through node 1 works on node 2, and revoked there, on neither", async () => {
    const { nodes, adminKey } = await cluster();
    const made = await api(nodes[0], adminKey, "/keys", {
      name: "backend",
      scopes: ["read", "write"],
    });
    expect(made.status).toBe(201);
    const key = made.body.key as string;
    const registered = await api(nodes[1], key, "/users", { userIDs: ["alice", "bob"] });
    expect(registered.status).toBeLessThan(300);
    const bob = await api(nodes[1], key, "/users/bob");
    expect(bob).toMatchObject({ status: 200, body: { known: true } });
    // A read-write key is not an admin key on either node.
    expect((await api(nodes[1], key, "/keys")).status).toBe(403);
    expect(
      (await api(nodes[1], adminKey, `/keys/${made.body.id as string}`, undefined, "DELETE"))
        .status,
    ).toBe(204);
    expect((await api(nodes[0], key, "/users/bob")).status).toBe(401);
    expect((await api(nodes[1], key, "/users/bob")).status).toBe(401);
  });

  it("a push registration made on node 1 is used when node 2 relays the invite", async () => {
    const pushGateway = await receiver();
    const { nodes, adminKey } = await cluster(pushGateway);
    const [first, second] = nodes;
    expect(
      (await api(first, adminKey, "/users", { userIDs: ["alice", "bob"] })).status,
    ).toBeLessThan(300);
    const registration = await api(first, adminKey, "/users/bob/push-registrations", {
      deviceID: "bob-phone",
      target: { provider: "http", token: "bob-phone-token" },
    });
    expect(registration.status).toBe(201);
    // With node 1 gone, node 2 is the one relaying every fact from here on.
    await first.close();
    const call = await api(second, adminKey, "/calls", {
      caller: "alice",
      invitees: ["bob"],
      timeout: 60,
      pushConfig: { title: "Alice", content: "is calling", payload: "{}" },
    });
    expect(call.status).toBe(201);
    const callID = call.body.callID as string;
    const [push] = await pushGateway.waitFor(1, (request) => request.text.includes(callID));
    const sent = JSON.parse(push?.text as string) as {
      registration: { id: string; token: string };
      message: { kind: string };
    };
    expect(sent.registration).toMatchObject({
      id: registration.body.id,
      token: "bob-phone-token",
    });
    expect(sent.message.kind).toBe("invite");
  });

  it("an endpoint registered on node 1 gets exactly one delivery per event with two nodes", async () => {
    const app = await receiver();
    const { nodes, adminKey } = await cluster();
    const endpoint = await api(nodes[0], adminKey, "/webhooks/endpoints", { url: app.url });
    expect(endpoint.status).toBe(201);
    await api(nodes[1], adminKey, "/users", { userIDs: ["alice", "bob"] });
    const callIDs: string[] = [];
    for (let round = 0; round < 3; round++) {
      const via = nodes[round % 2] as BeckonServer;
      const call = await api(via, adminKey, "/calls", {
        caller: "alice",
        invitees: ["bob"],
        timeout: 60,
      });
      expect(call.status).toBe(201);
      const callID = call.body.callID as string;
      callIDs.push(callID);
      const other = nodes[(round + 1) % 2] as BeckonServer;
      expect(
        (await api(other, adminKey, `/calls/${callID}/cancel`, { userID: "alice" })).status,
      ).toBe(200);
    }
    // Every event of the three calls is queued once and delivered.
    const deliveries = async () =>
      (
        (await api(nodes[1], adminKey, "/webhooks/deliveries?limit=100")).body.deliveries as Array<{
          id: string;
          status: string;
          payload: { type: string; data: { callID?: string } };
        }>
      ).filter((delivery) => callIDs.includes(delivery.payload.data.callID ?? ""));
    await expect
      .poll(async () => (await deliveries()).filter((d) => d.payload.type === "call_end").length, {
        timeout: 15_000,
      })
      .toBe(3);
    await expect
      .poll(async () => (await deliveries()).every((d) => d.status === "delivered"), {
        timeout: 15_000,
      })
      .toBe(true);
    const queued = await deliveries();
    // A delivery is recorded as delivered only after its request was answered, so every
    // request any node made for these deliveries has arrived by now.
    const received = app.requests.map((request) => String(request.headers["webhook-id"]));
    expect([...received].sort()).toEqual(queued.map((d) => d.id).sort());
    for (const callID of callIDs) {
      const types = queued
        .filter((d) => d.payload.data.callID === callID)
        .map((d) => d.payload.type);
      expect(types.sort()).toEqual(["call_cancel", "call_create", "call_end", "call_invite"]);
    }
  });

  it("a delivery queued on a node that stops is delivered by the other node", async () => {
    const app = await receiver();
    let reachable = false;
    app.responder = () => (reachable ? { status: 204 } : { status: 503, body: "down" });
    const { nodes, adminKey, schema } = await cluster();
    const endpoint = await api(nodes[0], adminKey, "/webhooks/endpoints", {
      url: app.url,
      events: ["call_create"],
    });
    expect(endpoint.status).toBe(201);
    await api(nodes[0], adminKey, "/users", { userIDs: ["alice", "bob"] });
    const call = await api(nodes[0], adminKey, "/calls", {
      caller: "alice",
      invitees: ["bob"],
      timeout: 60,
    });
    expect(call.status).toBe(201);
    // The first attempt failed and is recorded: its node holds the retry's schedule.
    const attempted = async () =>
      query<{ id: string; lease_owner: string; attempts: number }>(
        schema,
        "SELECT id, lease_owner, attempts FROM webhook_deliveries",
      );
    await expect
      .poll(async () => (await attempted())[0]?.attempts ?? 0, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const [held] = await attempted();
    const owner = held?.lease_owner as string;
    expect(["node-1", "node-2"]).toContain(owner);
    const [stopping, staying] = owner === "node-1" ? nodes : [nodes[1], nodes[0]];
    expect(stopping.nodeID).toBe(owner);
    await stopping.close();
    // Only now does the endpoint answer: whatever succeeds was sent by the node still running.
    reachable = true;
    await expect
      .poll(
        async () =>
          (await api(staying, adminKey, `/webhooks/deliveries/${held?.id as string}`)).body.status,
        { timeout: 15_000 },
      )
      .toBe("delivered");
    const [after] = await attempted();
    expect(after?.lease_owner).toBe(staying.nodeID);
    const detail = await api(staying, adminKey, `/webhooks/deliveries/${held?.id as string}`);
    const log = detail.body.attemptLog as Array<{ httpStatus: number }>;
    expect(log.at(-1)?.httpStatus).toBe(204);
    expect(log.filter((attempt) => attempt.httpStatus === 204)).toHaveLength(1);
  });
});
