// Pushes a node claimed but never sent: one node takes over everything queued when it starts
// again; in a cluster, a push is taken over only once its claim is old enough to be a dead
// node's, and by one node only.
import { randomBytes } from "node:crypto";
import { CallInvitationMode } from "@beckon/protocol";
import { afterEach, expect, it } from "vitest";
import { HttpPushProvider } from "../src/push/http-push-provider.js";
import { PushDispatcher } from "../src/push/push-dispatcher.js";
import { SqlitePushRegistrationStore } from "../src/push/push-registration-store.js";
import type { PushMessage } from "../src/push/push-types.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { HttpReceiver } from "./support/http-receiver.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const gateway = await new HttpReceiver().start();
  cleanups.push(() => gateway.stop());
  const db = openSqlite(":memory:");
  cleanups.push(() => {
    db.close();
  });
  const registrations = new SqlitePushRegistrationStore(db);
  const clock = { now: 1_800_000_000_000 };
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  const dispatcher = (orphanAfterMs?: number) => {
    const made = new PushDispatcher({
      providers: [new HttpPushProvider({ url: gateway.url, secret })],
      registrations,
      clock: () => clock.now,
      ...(orphanAfterMs !== undefined ? { orphanAfterMs } : {}),
    });
    cleanups.push(() => made.close());
    return made;
  };
  const registration = await registrations.add(
    "bob",
    "phone",
    { provider: "http", token: "bob-token" },
    clock.now,
  );
  const message = (callID: string): PushMessage => ({
    kind: "invite",
    callID,
    caller: "alice",
    operatedUserID: "alice",
    mode: CallInvitationMode.General,
    deadline: 0,
    sentAt: clock.now,
    title: "Alice",
    content: "calls",
    payload: "",
  });
  /** A push claimed by a node that then went away before sending it. */
  const abandoned = async (callID: string) =>
    registrations.claimSend(`${callID}:1:0`, registration, message(callID), clock.now);
  return { gateway, registrations, clock, dispatcher, abandoned };
}

it("one node starting again sends every push it had queued, however recent", async () => {
  const { gateway, registrations, dispatcher, abandoned } = await setup();
  await abandoned("call-1");
  const restarted = dispatcher();
  expect(await restarted.resume()).toBe(1);
  await restarted.idle();
  const [push] = await gateway.waitFor(1);
  expect(push?.text).toContain("call-1");
  expect((await registrations.sendsOf("call-1")).map((send) => send.status)).toEqual(["sent"]);
});

it("in a cluster, a queued push is taken over once its claim is stale, by one node", async () => {
  const { gateway, registrations, clock, dispatcher, abandoned } = await setup();
  await abandoned("call-2");
  const [first, second] = [dispatcher(60_000), dispatcher(60_000)];
  clock.now += 30_000;
  // Its node may still be sending it.
  expect(await first.resume()).toBe(0);
  clock.now += 31_000;
  const taken = await Promise.all([first.resume(), second.resume()]);
  expect(taken.sort()).toEqual([0, 1]);
  await Promise.all([first.idle(), second.idle()]);
  expect((await registrations.sendsOf("call-2")).map((send) => send.status)).toEqual(["sent"]);
  expect(gateway.requests.filter((request) => request.text.includes("call-2"))).toHaveLength(1);
});
