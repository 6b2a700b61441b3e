// Webhooks: per-endpoint filters, Standard Webhooks signatures, retries with backoff, the
// dead-letter list, replay, and a queue that survives a restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fact } from "@beckon/engine";
import { CallInvitationMode, CallUserState } from "@beckon/protocol";
import type Database from "better-sqlite3";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { payloadOfFact } from "../src/webhooks/webhook-events.js";
import { defaultRetryDelaysMs, WebhookService } from "../src/webhooks/webhook-service.js";
import { SqliteWebhookStore } from "../src/webhooks/webhook-store.js";
import { HttpReceiver, type ReceivedRequest } from "./support/http-receiver.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<HttpReceiver> {
  const started = await new HttpReceiver().start();
  cleanups.push(() => started.stop());
  return started;
}

function open(path = ":memory:"): Database.Database {
  const db = openSqlite(path);
  cleanups.push(() => {
    db.close();
  });
  return db;
}

function service(db: Database.Database, retryDelaysMs: readonly number[] = [10, 10, 10]) {
  const store = new SqliteWebhookStore(db);
  const webhooks = new WebhookService({ store, retryDelaysMs });
  cleanups.push(() => webhooks.stop());
  webhooks.start();
  return { store, webhooks };
}

const invited: Fact = {
  kind: "member.invited",
  callID: "call-1",
  userID: "bob",
  state: CallUserState.Inviting,
  by: { userID: "alice", deviceID: "alice-web" },
  inviter: "alice",
  at: 1_800_000_000_000,
};
const ended: Fact = {
  kind: "call.ended",
  callID: "call-1",
  mode: CallInvitationMode.Advanced,
  at: 1_800_000_001_000,
};

function verify(secret: string, request: ReceivedRequest): unknown {
  return new Webhook(secret).verify(request.text, {
    "webhook-id": String(request.headers["webhook-id"]),
    "webhook-timestamp": String(request.headers["webhook-timestamp"]),
    "webhook-signature": String(request.headers["webhook-signature"]),
  });
}

describe("webhooks", () => {
  it("sends each event to the endpoints whose filter takes it, signed per Standard Webhooks", async () => {
    const app = await receiver();
    const { store, webhooks } = service(open());
    const all = await store.addEndpoint(
      { url: `${app.url}/all`, events: null, description: "" },
      1,
    );
    const ends = await store.addEndpoint(
      { url: `${app.url}/ends`, events: ["call_end"], description: "" },
      1,
    );

    await webhooks.onFact(invited, { id: "call-1:1:0", version: 1 });
    await webhooks.onFact(ended, { id: "call-1:2:0", version: 2 });
    // At-least-once relay: a repeated fact is not sent again.
    await webhooks.onFact(invited, { id: "call-1:1:0", version: 1 });
    await app.waitFor(3);
    await webhooks.settled();

    const toAll = app.requests.filter((request) => request.path === "/all");
    const toEnds = app.requests.filter((request) => request.path === "/ends");
    // Deliveries go out in parallel: the order of arrival is not part of the contract.
    const byType = (a: unknown, b: unknown) =>
      String((a as { type: string }).type).localeCompare((b as { type: string }).type);
    expect(toAll.map((request) => verify(all.secret, request)).sort(byType)).toEqual([
      {
        type: "call_end",
        timestamp: "2027-01-15T08:00:01.000Z",
        data: { callID: "call-1", mode: CallInvitationMode.Advanced, at: 1_800_000_001_000 },
      },
      {
        type: "call_invite",
        timestamp: "2027-01-15T08:00:00.000Z",
        data: {
          callID: "call-1",
          userID: "bob",
          state: CallUserState.Inviting,
          by: { userID: "alice", deviceID: "alice-web" },
          inviter: "alice",
          at: 1_800_000_000_000,
        },
      },
    ]);
    expect(
      toEnds.map((request) => (verify(ends.secret, request) as { type: string }).type),
    ).toEqual(["call_end"]);
    // Another endpoint's secret does not verify.
    expect(() => verify(all.secret, toEnds[0] as ReceivedRequest)).toThrow();
  });

  it("retries a failing endpoint with the same webhook-id and records every attempt", async () => {
    const app = await receiver();
    let answers = 0;
    app.responder = () =>
      ++answers < 3 ? { status: 503, body: "down for a bit" } : { status: 204 };
    const { store, webhooks } = service(open());
    const endpoint = await store.addEndpoint({ url: app.url, events: null, description: "" }, 1);

    await webhooks.onFact(invited, { id: "call-1:1:0", version: 1 });
    await app.waitFor(3);
    await webhooks.settled();

    const ids = new Set(app.requests.map((request) => request.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    for (const request of app.requests) expect(verify(endpoint.secret, request)).toBeTruthy();
    const [delivery] = await store.listDeliveries({ limit: 10 });
    expect(delivery).toMatchObject({
      id: [...ids][0],
      status: "delivered",
      attempts: 3,
      lastStatus: 204,
    });
    expect(
      (await store.attemptsOf(delivery?.id as string)).map((a) => [
        a.attempt,
        a.httpStatus,
        a.error,
      ]),
    ).toEqual([
      [1, 503, "down for a bit"],
      [2, 503, "down for a bit"],
      [3, 204, ""],
    ]);
  });

  it("puts a delivery that never got through on the dead-letter list, and replays it by id", async () => {
    const app = await receiver();
    let healthy = false;
    app.responder = () => (healthy ? { status: 200 } : { status: 500, body: "broken" });
    const { store, webhooks } = service(open(), [5, 5]);
    await store.addEndpoint({ url: app.url, events: null, description: "" }, 1);

    await webhooks.onFact(invited, { id: "call-1:1:0", version: 1 });
    await app.waitFor(3);
    await webhooks.settled();
    const dead = await store.listDeliveries({ status: "dead", limit: 10 });
    expect(dead.map((delivery) => [delivery.attempts, delivery.lastStatus])).toEqual([[3, 500]]);

    healthy = true;
    expect(await webhooks.replay(dead[0]?.id as string)).toBe(true);
    await app.waitFor(4);
    await webhooks.settled();
    expect(app.requests[3]?.headers["webhook-id"]).toBe(dead[0]?.id);
    expect(await store.getDelivery(dead[0]?.id as string)).toMatchObject({ status: "delivered" });
    expect(await store.listDeliveries({ status: "dead", limit: 10 })).toEqual([]);
    expect(await webhooks.replay("msg_unknown")).toBe(false);
  });

  it("keeps queued deliveries across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "beckon-webhooks-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const app = await receiver();
    const first = new SqliteWebhookStore(open(join(dir, "beckon.db")));
    await first.addEndpoint({ url: app.url, events: null, description: "" }, 1);
    // Queued by a node that stopped before sending.
    await first.enqueue("call-1:1:0", payloadOfFact(invited), Date.now());

    service(open(join(dir, "beckon.db")));
    const [request] = await app.waitFor(1);
    expect(JSON.parse(request?.text as string).type).toBe("call_invite");
  });

  it("pauses a failing endpoint: a queue of 200 costs one round of attempts, and all arrive once it is back", async () => {
    const app = await receiver();
    let up = false;
    app.responder = () => (up ? { status: 204 } : { status: 503, body: "down" });
    const { store, webhooks } = service(open(), [2_000, 2_000, 2_000]);
    await store.addEndpoint({ url: app.url, events: null, description: "" }, 1);
    await webhooks.onFacts(
      Array.from({ length: 200 }, (_, i) => ({
        fact: { ...invited, callID: `call-${i}` },
        meta: { id: `call-${i}:1:0`, version: 1 },
      })),
    );
    // One round (the 8 attempts in flight at once) fails, and the endpoint is left alone.
    await app.waitFor(8);
    await webhooks.settled();
    expect(app.requests).toHaveLength(8);
    const pending = await store.listDeliveries({ status: "pending", limit: 200 });
    expect(pending).toHaveLength(200);
    expect(pending.filter((delivery) => delivery.attempts === 1)).toHaveLength(8);
    expect(await store.nextDueAt()).toBeGreaterThan(Date.now());
    // Back: after the pause, every delivery goes out, none of them twice.
    up = true;
    await app.waitFor(208);
    await webhooks.settled();
    expect(await store.listDeliveries({ status: "pending", limit: 10 })).toEqual([]);
    const delivered = app.requests.slice(8).map((request) => request.headers["webhook-id"]);
    expect(new Set(delivered).size).toBe(200);
  });

  it("returns to the relay at once while the endpoint hangs", async () => {
    const app = await receiver();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.responder = async () => {
      await held;
      return { status: 200 };
    };
    const { store, webhooks } = service(open());
    await store.addEndpoint({ url: app.url, events: null, description: "" }, 1);

    await webhooks.onFact(invited, { id: "call-1:1:0", version: 1 });
    await webhooks.onFact(ended, { id: "call-1:2:0", version: 2 });
    await app.waitFor(1);
    expect((await store.listDeliveries({ limit: 10 })).map((delivery) => delivery.status)).toEqual([
      "pending",
      "pending",
    ]);
    release();
    await app.waitFor(2);
    await webhooks.settled();
  });

  it("names a timer's cancel timeout_cancel and a caller's caller_cancel", () => {
    const cancelled: Fact = {
      ...invited,
      kind: "member.cancelled",
      state: CallUserState.Cancelled,
    };
    expect(payloadOfFact(cancelled)).toMatchObject({
      type: "call_cancel",
      data: { reason: "caller_cancel" },
    });
    const { by: _by, ...byTimer } = cancelled;
    expect(payloadOfFact(byTimer as Fact)).toMatchObject({
      type: "call_cancel",
      data: { reason: "timeout_cancel" },
    });
  });

  it("retries for more than a day by default, starting 2, 4, 8, 16, 32 s", () => {
    expect(defaultRetryDelaysMs.slice(0, 5)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000]);
    expect(defaultRetryDelaysMs.reduce((sum, delay) => sum + delay, 0)).toBeGreaterThan(86_400_000);
  });
});
