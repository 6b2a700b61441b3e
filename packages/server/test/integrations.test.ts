// The integrations composed as createServer wires them: a push that fails for good becomes a
// `push_failed` webhook, and the hooks run in the relay's order.
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterEach, expect, it } from "vitest";
import { createIntegrations } from "../src/integrations/create-integrations.js";
import { SqliteCallStore } from "../src/store/sqlite-call-store.js";
import { EngineCallService } from "./support/engine-call-service.js";
import { HttpReceiver } from "./support/http-receiver.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it("reports a push the service refused for good as a push_failed webhook", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-integrations-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pushService = await new HttpReceiver().start();
  cleanups.push(() => pushService.stop());
  pushService.responder = () => ({ status: 410, body: "unsubscribed" });
  const app = await new HttpReceiver().start();
  cleanups.push(() => app.stop());
  const calls = new SqliteCallStore(join(dir, "beckon.db"));
  cleanups.push(() => calls.close());
  const integrations = createIntegrations({
    database: join(dir, "beckon.db"),
    dataDir: dir,
    push: { webPush: { subject: "mailto:ops@example.com" } },
    calls,
    presence: { devicesOf: async () => [] },
  });
  cleanups.push(() => integrations.close());
  await integrations.start();
  expect(integrations.vapidPublicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
  const endpoint = await integrations.webhooks.store.addEndpoint(
    { url: app.url, events: ["push_failed"], description: "" },
    Date.now(),
  );
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const registration = await integrations.pushRegistrations.add(
    "bob",
    "bob-laptop",
    {
      provider: "webpush",
      endpoint: `${pushService.url}/sub`,
      keys: {
        p256dh: ecdh.getPublicKey().toString("base64url"),
        auth: randomBytes(16).toString("base64url"),
      },
    },
    Date.now(),
  );
  await calls.addUsers(["alice", "bob"]);
  const service = new EngineCallService(calls, integrations.hooks);

  const { callID } = await service.invite({
    actor: { userID: "alice", deviceID: "alice-web" },
    invitees: ["bob"],
    pushConfig: { title: "t", content: "c", payload: "" },
  });

  const [request] = await app.waitFor(1);
  const event = new Webhook(endpoint.secret).verify(request?.text as string, {
    "webhook-id": String(request?.headers["webhook-id"]),
    "webhook-timestamp": String(request?.headers["webhook-timestamp"]),
    "webhook-signature": String(request?.headers["webhook-signature"]),
  });
  expect(event).toMatchObject({
    type: "push_failed",
    data: {
      callID,
      userID: "bob",
      deviceID: "bob-laptop",
      registrationID: registration.id,
      provider: "webpush",
      push: "invite",
      httpStatus: 410,
      expired: true,
    },
  });
  expect(await integrations.pushRegistrations.listOf("bob")).toEqual([]);
  expect((await integrations.records(callID)).facts.map((entry) => entry.kind)).toEqual([
    "call.created",
    "member.invited",
  ]);
});

it("resumes pushes a stopped node had claimed, and purges what is past the retention", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-integrations-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pushService = await new HttpReceiver().start();
  cleanups.push(() => pushService.stop());
  const app = await new HttpReceiver().start();
  cleanups.push(() => app.stop());
  const database = join(dir, "beckon.db");
  const calls = new SqliteCallStore(database);
  cleanups.push(() => calls.close());
  const options = {
    database,
    dataDir: dir,
    push: { webPush: { subject: "mailto:ops@example.com" } },
    calls,
    presence: { devicesOf: async () => [] },
  };
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const target = {
    provider: "webpush" as const,
    endpoint: `${pushService.url}/sub`,
    keys: {
      p256dh: ecdh.getPublicKey().toString("base64url"),
      auth: randomBytes(16).toString("base64url"),
    },
  };

  // A node claimed a push and stopped before sending it.
  const first = createIntegrations(options);
  const registration = await first.pushRegistrations.add("bob", "bob-laptop", target, Date.now());
  const claimed = await first.pushRegistrations.claimSend(
    "call-x:1:1",
    registration,
    {
      kind: "invite",
      callID: "call-x",
      caller: "alice",
      operatedUserID: "alice",
      mode: 0,
      deadline: Date.now() + 60_000,
      sentAt: Date.now(),
      title: "t",
      content: "c",
      payload: "",
    },
    Date.now(),
  );
  await first.close();

  const second = createIntegrations(options);
  cleanups.push(() => second.close());
  await second.webhooks.store.addEndpoint({ url: app.url, events: null, description: "" }, 1);
  await second.start();
  await pushService.waitFor(1);
  await second.dispatcher.idle();
  expect((await second.pushRegistrations.sendsOf("call-x"))[0]).toMatchObject({
    id: claimed?.id,
    status: "sent",
  });

  await calls.addUsers(["alice", "bob"]);
  const { callID } = await new EngineCallService(calls, second.hooks).invite({
    actor: { userID: "alice", deviceID: "alice-web" },
    invitees: ["bob"],
  });
  await app.waitFor(2);
  await second.webhooks.service.settled();
  expect((await second.records(callID)).facts).toHaveLength(2);

  expect(await second.purgeBefore(Date.now() - 60_000)).toBe(0);
  // One push, two delivered webhooks; the timeline goes with its call (the call store's purge).
  expect(await second.purgeBefore(Date.now() + 1)).toBe(3);
  expect((await second.records(callID)).facts).toHaveLength(2);
  expect(await second.pushRegistrations.sendsOf("call-x")).toEqual([]);
  expect(await second.webhooks.store.listDeliveries({ limit: 10 })).toEqual([]);
});
