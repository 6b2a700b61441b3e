// Offline push, webhooks and the server API on a real Beckon node, with SDK devices over real
// sockets: the integrations' hooks sit on the node's outbox relay, and the API runs on its own
// Fastify instance sharing the node's store, streams and presence (as another node would).
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultEngineSettings } from "@beckon/engine";
import { CallInvitationMode, CallUserState } from "@beckon/protocol";
import {
  createServer,
  LocalTimerSource,
  MemoryPresence,
  MemoryStreamBroker,
  SqliteCallStore,
} from "@beckon/server";
import Fastify from "fastify";
import { decrypt } from "http_ece";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { afterEach, expect, it } from "vitest";
import { beckonApi } from "../src/api/api-plugin.js";
import { CallService } from "../src/call-service.js";
import { OutboxRelay } from "../src/hooks/outbox-relay.js";
import { createIntegrations } from "../src/integrations/create-integrations.js";
import type { PushTarget } from "../src/push/push-types.js";
import { HttpReceiver, type ReceivedRequest } from "./support/http-receiver.js";
import { SECRET, useWorld } from "./support/world.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
// After the hook above, so it runs before it: servers stop before their data dirs go.
const world = useWorld();

const PUSH = { title: "Alice calls", content: "Tap to answer", payload: '{"room":1}' };

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-e2e-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pushService = await new HttpReceiver().start();
  cleanups.push(() => pushService.stop());
  const backend = await new HttpReceiver().start();
  cleanups.push(() => backend.stop());

  const database = join(dir, "beckon.db");
  const store = new SqliteCallStore(database);
  const broker = new MemoryStreamBroker();
  const presence = new MemoryPresence();
  const timers = new LocalTimerSource(store);
  cleanups.push(async () => {
    await broker.close();
    await presence.close();
    await store.close();
  });
  const integrations = createIntegrations({
    database,
    dataDir: dir,
    push: { webPush: { subject: "mailto:ops@example.com" } },
    calls: store,
    presence,
  });
  cleanups.push(() => integrations.close());
  await integrations.start();
  const endpoint = await integrations.webhooks.store.addEndpoint(
    { url: backend.url, events: null, description: "" },
    Date.now(),
  );

  const node = await createServer({
    secret: SECRET,
    logLevel: "silent",
    services: { store, broker, presence, timers, hooks: integrations.hooks },
  });
  cleanups.push(() => node.close());

  // The API's own call service over the same services, with its own relay (hooks are
  // idempotent, so two relays over one outbox deliver each fact at least once, never twice).
  const log = pino({ level: "silent" });
  const relay = new OutboxRelay(store, integrations.hooks, log);
  const calls = new CallService({
    store,
    broker,
    presence,
    timers,
    relay,
    settings: defaultEngineSettings,
    log,
    clock: Date.now,
  });
  const app = Fastify();
  await app.register(beckonApi, {
    prefix: "/api",
    secret: SECRET,
    calls,
    store,
    ...integrations.api,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(async () => {
    await app.close();
    await calls.drain();
    await relay.stop();
  });
  const address = app.server.address();
  const apiBase = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/api`;
  const key = (await integrations.keys.create("e2e", ["write"], Date.now())).key;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${apiBase}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  function subscriber(path: string) {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const target: PushTarget = {
      provider: "webpush",
      endpoint: `${pushService.url}${path}`,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    };
    const open = (request: ReceivedRequest) =>
      JSON.parse(
        decrypt(request.body, {
          version: "aes128gcm",
          privateKey: ecdh,
          authSecret: auth,
        }).toString("utf8"),
      ) as Record<string, unknown>;
    return { target, open };
  }

  const events = (type?: string) =>
    backend.requests
      .map(
        (request) =>
          new Webhook(endpoint.secret).verify(request.text, {
            "webhook-id": String(request.headers["webhook-id"]),
            "webhook-timestamp": String(request.headers["webhook-timestamp"]),
            "webhook-signature": String(request.headers["webhook-signature"]),
          }) as { type: string; data: Record<string, unknown> },
      )
      .filter((event) => type === undefined || event.type === type);

  return { node, store, integrations, pushService, backend, api, subscriber, events };
}

it("pushes an invitation to a user with no device online, and its cancel to the same device", async () => {
  const e2e = await setup();
  await e2e.store.addUsers(["bob", "carol"]);
  const bobPhone = e2e.subscriber("/bob-phone");
  await e2e.integrations.pushRegistrations.add("bob", "bob-phone", bobPhone.target, Date.now());
  await e2e.integrations.pushRegistrations.add(
    "carol",
    "carol-phone",
    e2e.subscriber("/carol-phone").target,
    Date.now(),
  );
  const alice = await world.device(e2e.node, "alice");
  const carol = await world.device(e2e.node, "carol");

  const { callID } = await alice.client.callInvite(["bob", "carol"], {
    timeout: 45,
    mode: CallInvitationMode.General,
    extendedData: "",
    pushConfig: PUSH,
  });
  const ringing = await carol.waitFor("callInvitationReceived", (data) => data.callID === callID);
  const [invitePush] = await e2e.pushService.waitFor(1);
  expect(invitePush?.path).toBe("/bob-phone");
  expect(bobPhone.open(invitePush as ReceivedRequest)).toMatchObject({
    kind: "invite",
    callID,
    caller: "alice",
    mode: CallInvitationMode.General,
    // The same deadline the online invitee's SDK counts down to.
    deadline: ringing.deadline,
    title: "Alice calls",
    payload: '{"room":1}',
  });

  await alice.client.callCancel([], callID, {
    extendedData: "",
    pushConfig: { title: "Missed call", content: "from Alice", payload: "" },
  });
  const pushes = await e2e.pushService.waitFor(2);
  expect(pushes.map((request) => request.path)).toEqual(["/bob-phone", "/bob-phone"]);
  expect(bobPhone.open(pushes[1] as ReceivedRequest)).toMatchObject({
    kind: "cancel",
    callID,
    operatedUserID: "alice",
    title: "Missed call",
  });

  // Webhooks saw the call from start to end, signed.
  await e2e.backend.waitFor(1, (request) => request.text.includes('"call_end"'));
  expect(
    e2e
      .events("call_invite")
      .map((event) => event.data.userID)
      .sort(),
  ).toEqual(["bob", "carol"]);
  expect(e2e.events("call_cancel")[0]?.data).toMatchObject({ callID, reason: "caller_cancel" });
});

it("an app backend starts a call through the API; the SDK device rings, answers, and the API shows it", async () => {
  const e2e = await setup();
  const alice = await world.device(e2e.node, "alice", { deviceID: "alice-laptop" });
  await e2e.api("POST", "/users", { userIDs: ["support"] });

  const created = await e2e.api("POST", "/calls", {
    caller: "support",
    invitees: ["alice"],
    extendedData: "ticket 42",
  });
  expect(created.status).toBe(201);
  const callID = created.body.callID as string;
  const ring = await alice.waitFor("callInvitationReceived", (data) => data.callID === callID);
  expect(ring).toMatchObject({ caller: "support", extendedData: "ticket 42" });

  await alice.client.callAccept(callID, { extendedData: "hi" });
  await e2e.backend.waitFor(1, (request) => request.text.includes('"call_accept"'));
  expect(e2e.events("call_accept")[0]?.data).toMatchObject({
    callID,
    userID: "alice",
    by: { userID: "alice", deviceID: "alice-laptop" },
    extendedData: "hi",
  });

  const view = await e2e.api("GET", `/calls/${callID}`);
  expect(view.body).toMatchObject({
    caller: "support",
    members: [
      { userID: "support", state: CallUserState.Accepted, mainDevice: "server-api" },
      { userID: "alice", state: CallUserState.Accepted, mainDevice: "alice-laptop" },
    ],
  });
  const timeline = view.body.timeline as Array<{ kind: string; deviceID?: string }>;
  expect(timeline.map((entry) => entry.kind)).toEqual(
    expect.arrayContaining([
      "call.created",
      "member.invited",
      "member.received",
      "member.accepted",
    ]),
  );
  expect(timeline.find((entry) => entry.kind === "member.accepted")?.deviceID).toBe("alice-laptop");
  const devices = view.body.devices as Array<Record<string, unknown>>;
  const laptop = devices.find((device) => device.deviceID === "alice-laptop");
  expect(laptop).toMatchObject({
    userID: "alice",
    pushes: [],
    answers: [{ kind: "member.accepted" }],
  });
  expect(laptop?.receivedAt).toBeTypeOf("number");
});

it("rings, answers and ends while the webhook endpoint and the push service hang", async () => {
  const e2e = await setup();
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  e2e.pushService.responder = async () => {
    await held;
    return { status: 201 };
  };
  e2e.backend.responder = async () => {
    await held;
    return { status: 200 };
  };
  cleanups.push(() => release());
  await e2e.store.addUsers(["carol"]);
  await e2e.integrations.pushRegistrations.add(
    "carol",
    "carol-phone",
    e2e.subscriber("/carol-phone").target,
    Date.now(),
  );
  const alice = await world.device(e2e.node, "alice");
  const bob = await world.device(e2e.node, "bob");

  const { callID } = await alice.client.callInvite(["bob", "carol"], {
    timeout: 30,
    mode: CallInvitationMode.General,
    extendedData: "",
    pushConfig: PUSH,
  });
  await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);
  await bob.client.callAccept(callID, { extendedData: "" });
  await alice.waitFor(
    "callUserStateChanged",
    (data) =>
      data.callID === callID &&
      data.callUserList.some(
        (user) => user.userID === "bob" && user.state === CallUserState.Accepted,
      ),
  );
  // Both third parties got their requests and are still holding them.
  await e2e.pushService.waitFor(1);
  await e2e.backend.waitFor(1);
  expect(
    (await e2e.integrations.pushRegistrations.sendsOf(callID)).map((send) => send.status),
  ).toEqual(["queued"]);
  expect(
    (await e2e.integrations.webhooks.store.listDeliveries({ limit: 50 })).some(
      (delivery) => delivery.status === "delivered",
    ),
  ).toBe(false);
  release();
});
