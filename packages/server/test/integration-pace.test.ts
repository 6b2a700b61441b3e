// The push dispatcher and the webhook sender have bounds and their own pace: pushes past the
// in-memory window wait in the store (counted, logged once) and are sent as it drains; webhook
// attempts start no faster than their pace, whatever is queued. Real stores, real HTTP.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CallInvitationMode } from "@beckon/protocol";
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import { HttpPushProvider } from "../src/push/http-push-provider.js";
import { PushDispatcher } from "../src/push/push-dispatcher.js";
import { SqlitePushRegistrationStore } from "../src/push/push-registration-store.js";
import type { PushMessage } from "../src/push/push-types.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { WebhookService } from "../src/webhooks/webhook-service.js";
import { SqliteWebhookStore } from "../src/webhooks/webhook-store.js";
import { HttpReceiver } from "./support/http-receiver.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A pino logger whose lines land in `lines`. */
function capturingLogger(lines: string[]) {
  return pino(
    { level: "warn" },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
}

it("a slow push provider: the dispatcher holds at most its window, the rest waits in the store and all are sent", async () => {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const provider = await new HttpReceiver().start();
  cleanups.push(() => provider.stop());
  // The provider answers nothing until released.
  provider.responder = async () => {
    await released;
    return { status: 201 };
  };
  const db = openSqlite(":memory:");
  cleanups.push(() => {
    db.close();
  });
  const registrations = new SqlitePushRegistrationStore(db);
  const lines: string[] = [];
  let overflowed = 0;
  const dispatcher = new PushDispatcher({
    providers: [
      new HttpPushProvider({
        url: provider.url,
        secret: `whsec_${randomBytes(24).toString("base64")}`,
      }),
    ],
    registrations,
    concurrency: 2,
    maxQueued: 4,
    log: capturingLogger(lines),
    onOverflow: () => {
      overflowed += 1;
    },
  });
  cleanups.push(() => dispatcher.close());
  const registration = await registrations.add(
    "bob",
    "phone",
    { provider: "http", token: "bob-token" },
    Date.now(),
  );
  const message = (callID: string): PushMessage => ({
    kind: "invite",
    callID,
    caller: "alice",
    operatedUserID: "alice",
    mode: CallInvitationMode.General,
    deadline: 0,
    sentAt: Date.now(),
    title: "Alice",
    content: "calls",
    payload: "",
  });
  const callIDs = Array.from({ length: 20 }, (_, i) => `call-${i}`);
  for (const callID of callIDs) {
    const send = await registrations.claimSend(
      `${callID}:1:0`,
      registration,
      message(callID),
      Date.now(),
    );
    if (!send) throw new Error("not claimed");
    dispatcher.enqueue(send, registration);
    expect(dispatcher.heldCount).toBeLessThanOrEqual(4);
  }
  expect(overflowed).toBe(16);
  expect(lines.filter((line) => line.includes("push window full"))).toHaveLength(1);
  release();
  await dispatcher.idle();
  await provider.waitFor(20);
  for (const callID of callIDs) {
    expect((await registrations.sendsOf(callID)).map((send) => send.status)).toEqual(["sent"]);
  }
  expect(dispatcher.heldCount).toBe(0);
});

it("webhook attempts start at the sender's pace, not as fast as deliveries are queued", async () => {
  const endpoint = await new HttpReceiver().start();
  cleanups.push(() => endpoint.stop());
  endpoint.responder = () => ({ status: 204 });
  const db = openSqlite(":memory:");
  cleanups.push(() => {
    db.close();
  });
  const store = new SqliteWebhookStore(db);
  // The pace counts on this clock: frozen, it allows one burst (a tenth of a second's worth).
  const clock = { now: 1_800_000_000_000 };
  await store.addEndpoint({ url: endpoint.url, events: null, description: "" }, clock.now);
  const service = new WebhookService({ store, clock: () => clock.now, maxPerSecond: 100 });
  cleanups.push(() => service.stop());
  service.start();
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      service.publish(`event-${i}`, "push_failed", { n: i }, clock.now),
    ),
  );
  // Deliveries no attempt has claimed yet (a claim leases a delivery into the future).
  const unclaimed = () =>
    (
      db
        .prepare(
          "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?",
        )
        .get(clock.now) as { n: number }
    ).n;
  // Every tenth of a second of the sender's clock allows ten attempts, and no more.
  for (let step = 1; step <= 5; step++) {
    await endpoint.waitFor(10 * step);
    expect(unclaimed()).toBe(50 - 10 * step);
    clock.now += 100;
  }
  await service.settled();
  expect(endpoint.requests).toHaveLength(50);
});
