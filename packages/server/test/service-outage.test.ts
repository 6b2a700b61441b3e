// A node whose PostgreSQL or Redis goes away stays up: what it cannot commit is refused with the
// retryable 6000102, /readyz says which service is missing, and both recover once it is back.
import { ErrorCode } from "@beckon/protocol";
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
