// A node whose PostgreSQL or Redis goes away stays up: what it cannot commit is refused with the
// retryable 6000102, /readyz says which service is missing, and both recover once it is back.
import { ConnectionState, ErrorCode } from "@beckon/protocol";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresCallStore } from "../src/store/postgres-call-store.js";
import {
  canRunOwnServices,
  type OwnPostgres,
  type OwnRedis,
  startOwnPostgres,
  startOwnRedis,
} from "./support/own-services.js";
import { useWorld } from "./support/world.js";

const world = useWorld();
const available = canRunOwnServices();

describe.runIf(available)("service outages", () => {
  let postgres: OwnPostgres;
  let redis: OwnRedis;
  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startOwnPostgres(), startOwnRedis()]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([postgres?.stop(), redis?.stop()]);
  });

  async function readiness(httpUrl: string) {
    const response = await fetch(`${httpUrl}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: object } };
  }

  it("a connection checked out of the pool that the database drops does not end the process", async () => {
    const store = await PostgresCallStore.open({
      connectionString: postgres.url,
      schema: "checked_out",
    });
    try {
      const client = await store.pool.connect();
      // PostgreSQL terminates the connection while nobody queries it: node-postgres emits
      // "error" on it (an uncaught exception, failing the run, without a listener), then "end".
      const ended = new Promise((resolve) => client.once("end", resolve));
      await postgres.down();
      try {
        await ended;
        client.release(true);
      } finally {
        await postgres.up();
      }
      await expect(store.getCall("none")).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("PostgreSQL down: requests get 6000102 and /readyz names the store; both recover", async () => {
    const server = await world.server({
      store: `${postgres.url}?schema=outage`,
      redis: `${redis.url}?prefix=outage:`,
    });
    await world.device(server, "bob");
    const alice = await world.device(server, "alice");
    expect(await readiness(server.httpUrl)).toEqual({
      status: 200,
      body: { ready: true, checks: { store: "ok", redis: "ok" } },
    });

    await postgres.down();
    await expect(alice.client.callInvite(["bob"], { timeout: 30 })).rejects.toMatchObject({
      code: ErrorCode.ServiceUnavailable,
    });
    const down = await readiness(server.httpUrl);
    expect(down.status).toBe(503);
    expect(down.body.checks).toMatchObject({ redis: "ok" });
    expect(down.body.checks).not.toMatchObject({ store: "ok" });

    await postgres.up();
    // The pool reconnects on its own; the first request after may still meet a dead connection.
    await expect
      .poll(() =>
        alice.client.callInvite(["bob"], { timeout: 30 }).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    expect((await readiness(server.httpUrl)).status).toBe(200);
  });

  it("Redis stalled past the presence leases: the lapsed devices resync and hear what timed out meanwhile", async () => {
    // Heartbeats of 1 s make leases of 3 s: a 4.5 s stall outlasts them (Redis' clock runs on
    // while it is stopped), so bob's session is missing from presence for a while after it, and
    // an event published then reaches no device of his. The node puts the session back and
    // makes the device resync, so it still hears of its call once.
    const server = await world.server({
      store: `${postgres.url}?schema=outage_stall`,
      redis: `${redis.url}?prefix=outage-stall:`,
      heartbeatIntervalMs: 1_000,
    });
    const bob = await world.device(server, "bob");
    const alice = await world.device(server, "alice");
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 2 });
    await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);

    await redis.stall(4_500);
    const resynced = await bob.waitFor("connectionStateChanged", (data) =>
      data.extendedData.includes('"resumed":false'),
    );
    expect(resynced.state).toBe(ConnectionState.Connected);
    await bob.waitFor("callInvitationTimeout", (data) => data.callID === callID);
    expect(bob.events("callInvitationTimeout", callID)).toHaveLength(1);
    expect(bob.events("callInvitationReceived", callID)).toHaveLength(1);
  }, 30_000);

  it("a session missing from presence when its call changes: put back, the device resyncs and hears the change", async () => {
    // What a stall past the leases leaves, made exact: bob's session and the node's marker are
    // gone from Redis (the other nodes are told), and alice cancels meanwhile, so the cancel is
    // published to no device of bob's. The node notices its marker lapsed, puts the session back
    // and makes the device resync: it hears of the cancel once.
    const prefix = "outage-lapse:";
    const server = await world.server({
      store: `${postgres.url}?schema=outage_lapse`,
      redis: `${redis.url}?prefix=${prefix}`,
      heartbeatIntervalMs: 1_000,
    });
    const bob = await world.device(server, "bob");
    const alice = await world.device(server, "alice");
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);

    const admin = new Redis(redis.url);
    try {
      const lapsed = (await admin.keys(`${prefix}*`)).filter(
        (key) => key.startsWith(`${prefix}p:`) || /^[^:]*:node:\{[^}]*\}$/.test(key),
      );
      expect(lapsed.length).toBeGreaterThanOrEqual(2);
      await admin.del(...lapsed);
      await admin.publish(`${prefix}presence`, "bob");
    } finally {
      admin.disconnect();
    }
    await alice.client.callCancel([], callID, {});
    await bob.waitFor("callInvitationCancelled", (data) => data.callID === callID);
    expect(bob.events("callInvitationCancelled", callID)).toHaveLength(1);
    expect(bob.events("callInvitationReceived", callID)).toHaveLength(1);
  }, 30_000);

  it("Redis stalled or down: /readyz names Redis, and is ready again once it answers", async () => {
    const server = await world.server({
      store: `${postgres.url}?schema=outage_redis`,
      redis: `${redis.url}?prefix=outage-redis:`,
    });
    expect((await readiness(server.httpUrl)).status).toBe(200);
    const stalled = redis.stall(3_000);
    const during = await readiness(server.httpUrl);
    await stalled;
    expect(during).toEqual({
      status: 503,
      body: { ready: false, checks: { store: "ok", redis: "Redis did not answer in time" } },
    });
    await expect.poll(async () => (await readiness(server.httpUrl)).status).toBe(200);
  });
});
