// The server API plugin mounted on its own Fastify instance at /api, over real HTTP: API keys
// and scopes, problem+json errors with the SDK's codes, calls on behalf of users with their
// webhooks, pushes and timeline, push registrations, webhook admin and the OpenAPI document.
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallInvitationMode, CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import Fastify from "fastify";
import { decodeJwt } from "jose";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { type ApiScope, SqliteApiKeyStore } from "../src/api/api-key-store.js";
import { beckonApi } from "../src/api/api-plugin.js";
import { runApikeyCommand } from "../src/cli-apikey.js";
import { MemoryPresence } from "../src/presence/memory-presence.js";
import { PushDispatcher } from "../src/push/push-dispatcher.js";
import { PushHook } from "../src/push/push-hook.js";
import { SqlitePushRegistrationStore } from "../src/push/push-registration-store.js";
import { loadOrCreateVapidKeys } from "../src/push/vapid-keys.js";
import { WebPushProvider } from "../src/push/web-push-provider.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { SqliteCallStore } from "../src/store/sqlite-call-store.js";
import { timelineEntries } from "../src/timeline/device-timelines.js";
import { WebhookService } from "../src/webhooks/webhook-service.js";
import { SqliteWebhookStore } from "../src/webhooks/webhook-store.js";
import { EngineCallService } from "./support/engine-call-service.js";
import { HttpReceiver } from "./support/http-receiver.js";

const SECRET = "api-test-secret-0123456789";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-api-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const calls = new SqliteCallStore(":memory:");
  cleanups.push(() => calls.close());
  const db = openSqlite(":memory:");
  cleanups.push(() => {
    db.close();
  });
  const keys = new SqliteApiKeyStore(db);
  const registrations = new SqlitePushRegistrationStore(db);
  const webhookStore = new SqliteWebhookStore(db);
  const webhooks = new WebhookService({ store: webhookStore, retryDelaysMs: [5] });
  webhooks.start();
  cleanups.push(() => webhooks.stop());
  const vapid = loadOrCreateVapidKeys(dir);
  const dispatcher = new PushDispatcher({
    providers: [
      new WebPushProvider({ keys: loadOrCreateVapidKeys(dir), subject: "mailto:t@example.com" }),
    ],
    registrations,
  });
  cleanups.push(() => dispatcher.close());
  const sessions = new MemoryPresence();
  const push = new PushHook({ calls, presence: sessions, registrations, dispatcher });
  const service = new EngineCallService(calls, [webhooks, push]);

  const app = Fastify();
  await app.register(beckonApi, {
    prefix: "/api",
    secret: SECRET,
    calls: service,
    store: calls,
    presence: sessions,
    keys,
    pushRegistrations: registrations,
    timeline: async (callID) => timelineEntries((await calls.logOf(callID)).facts),
    webhooks: { store: webhookStore, service: webhooks },
    vapidPublicKey: vapid.publicKey,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(() => app.close());
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/api`;

  const keyFor = async (...scopes: ApiScope[]) =>
    (await keys.create("test", scopes, Date.now())).key;
  const adminKey = await keyFor("admin");
  async function call(method: string, path: string, body?: unknown, key: string | null = adminKey) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get("content-type") ?? "",
      body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { code?: number },
    };
  }
  return {
    vapid,
    base,
    call,
    keyFor,
    keys,
    registrations,
    webhookStore,
    webhooks,
    dispatcher,
    sessions,
    dir,
  };
}

describe("server API", () => {
  it("refuses requests without a valid key, or with too small a scope, as problem+json", async () => {
    const api = await start();
    const reader = await api.keyFor("read");

    const none = await api.call("GET", "/users/alice", undefined, null);
    expect(none.status).toBe(401);
    expect(none.type).toContain("application/problem+json");
    expect(none.body).toMatchObject({
      status: 401,
      code: ErrorCode.TokenInvalid,
      title: "TokenInvalid",
    });
    expect((await api.call("GET", "/users/alice", undefined, "bk_nope")).status).toBe(401);
    expect((await api.call("GET", "/users/alice", undefined, reader)).status).toBe(200);
    const tooSmall = await api.call("POST", "/users", { userIDs: ["alice"] }, reader);
    expect(tooSmall).toMatchObject({ status: 403, body: { code: ErrorCode.TokenInvalid } });
    expect((await api.call("GET", "/users/alice")).body).toMatchObject({ known: false });

    const keys = await api.keys.list();
    await api.keys.revoke(keys.find((key) => key.scopes.includes("read"))?.id as string);
    expect((await api.call("GET", "/users/alice", undefined, reader)).status).toBe(401);
  });

  it("rejects bad input with 6000001 and changes nothing", async () => {
    const api = await start();
    await api.call("POST", "/users", { userIDs: ["alice", "bob"] });

    const empty = await api.call("POST", "/calls", { caller: "alice", invitees: [] });
    expect(empty).toMatchObject({ status: 400, body: { code: ErrorCode.ParamsInvalid } });
    const badUser = await api.call("POST", "/users", { userIDs: ["no spaces allowed"] });
    expect(badUser).toMatchObject({ status: 400, body: { code: ErrorCode.ParamsInvalid } });
    const notJson = await fetch(`${api.base}/users`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await api.keyFor("write")}`,
        "content-type": "application/json",
      },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: ErrorCode.ParamsInvalid });

    expect((await api.call("GET", "/users/alice/calls")).body).toEqual({
      callList: [],
      nextFlag: 0,
    });
    expect((await api.call("GET", "/users/no%20spaces%20allowed")).status).toBe(400);
  });

  it("runs a call on behalf of users, with signed webhooks, an offline push and a timeline", async () => {
    const api = await start();
    const app = await new HttpReceiver().start();
    cleanups.push(() => app.stop());
    const pushService = await new HttpReceiver().start();
    cleanups.push(() => pushService.stop());

    expect((await api.call("POST", "/users", { userIDs: ["alice", "bob"] })).status).toBe(200);
    const token = await api.call("POST", "/users/bob/tokens", { ttlSeconds: 600 });
    expect(decodeJwt(token.body.token as string).sub).toBe("bob");
    const endpoint = await api.call("POST", "/webhooks/endpoints", {
      url: `${app.url}/hooks`,
      events: ["call_create", "call_invite", "call_accept"],
    });
    expect(endpoint.status).toBe(201);
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const registration = await api.call("POST", "/users/bob/push-registrations", {
      deviceID: "bob-laptop",
      target: {
        provider: "webpush",
        endpoint: `${pushService.url}/sub/bob`,
        keys: {
          p256dh: ecdh.getPublicKey().toString("base64url"),
          auth: randomBytes(16).toString("base64url"),
        },
      },
    });
    expect(registration).toMatchObject({
      status: 201,
      body: { userID: "bob", deviceID: "bob-laptop" },
    });

    const created = await api.call("POST", "/calls", {
      caller: "alice",
      invitees: ["bob", "nobody"],
      timeout: 60,
      mode: CallInvitationMode.General,
      extendedData: "from the support button",
      // payload may be left out: the push still goes, with an empty one.
      pushConfig: { title: "Support calls", content: "Tap to answer" },
    });
    expect(created.status).toBe(201);
    const callID = created.body.callID as string;
    expect(created.body).toMatchObject({
      timeout: 60,
      errorUserList: [{ userID: "nobody", reason: ErrorCode.CallInviteUserDoesNotExist }],
    });

    const hooks = await app.waitFor(2);
    const secret = endpoint.body.secret as string;
    const events = hooks.map(
      (request) =>
        new Webhook(secret).verify(request.text, {
          "webhook-id": String(request.headers["webhook-id"]),
          "webhook-timestamp": String(request.headers["webhook-timestamp"]),
          "webhook-signature": String(request.headers["webhook-signature"]),
        }) as { type: string; data: { callID: string } },
    );
    expect(events.map((event) => event.type).sort()).toEqual(["call_create", "call_invite"]);
    expect(events.every((event) => event.data.callID === callID)).toBe(true);
    await pushService.waitFor(1);
    await api.dispatcher.idle();

    const accepted = await api.call("POST", `/calls/${callID}/accept`, {
      userID: "bob",
      extendedData: "on my way",
    });
    expect(accepted).toMatchObject({ status: 200, body: { callID } });
    await app.waitFor(3);
    const again = await api.call("POST", `/calls/${callID}/accept`, { userID: "bob" });
    expect(again).toMatchObject({ status: 409, body: { code: ErrorCode.CallCommonError } });
    const stranger = await api.call("POST", `/calls/${callID}/reject`, { userID: "carol" });
    expect(stranger).toMatchObject({ status: 403, body: { code: ErrorCode.CallIsNotInvitee } });
    expect(await api.call("GET", "/calls/unknown-call")).toMatchObject({
      status: 404,
      body: { code: ErrorCode.CallDoesNotExist },
    });

    const view = await api.call("GET", `/calls/${callID}`, undefined, await api.keyFor("read"));
    expect(view.body).toMatchObject({
      callID,
      caller: "alice",
      state: CallState.Ended,
      extendedData: "from the support button",
      members: [
        { userID: "alice", state: CallUserState.Accepted },
        {
          userID: "bob",
          state: CallUserState.Accepted,
          extendedData: "on my way",
          mainDevice: "server-api",
        },
      ],
    });
    const timeline = view.body.timeline as Array<{
      kind: string;
      userID?: string;
      deviceID?: string;
    }>;
    expect(timeline.map((entry) => entry.kind)).toEqual([
      "call.created",
      "member.invited",
      "push.sent",
      "member.accepted",
      "call.ended",
    ]);
    expect(timeline[2]).toMatchObject({ userID: "bob", deviceID: "bob-laptop" });
    expect(view.body.devices).toEqual([
      {
        userID: "bob",
        deviceID: "server-api",
        pushes: [],
        answers: [{ kind: "member.accepted", at: expect.any(Number) }],
      },
      {
        userID: "bob",
        deviceID: "bob-laptop",
        pushes: [
          expect.objectContaining({
            kind: "invite",
            status: "sent",
            provider: "webpush",
            httpStatus: 201,
          }),
        ],
        answers: [],
      },
    ]);

    const listed = await api.call("GET", "/users/bob/calls?count=10");
    expect(listed.body).toMatchObject({
      nextFlag: 0,
      callList: [{ callID, caller: "alice", state: CallState.Ended }],
    });
  });

  it("pages a user's calls like queryCallInvitationList", async () => {
    const api = await start();
    await api.call("POST", "/users", { userIDs: ["alice", "bob"] });
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const created = await api.call("POST", "/calls", { caller: "alice", invitees: ["bob"] });
      ids.push(created.body.callID as string);
      await api.call("POST", `/calls/${ids.at(-1)}/cancel`, { userID: "alice" });
    }
    const first = await api.call("GET", "/users/bob/calls?count=2");
    const firstList = first.body.callList as Array<{ callID: string }>;
    expect(firstList.map((call) => call.callID)).toEqual([ids[2], ids[1]]);
    const second = await api.call(
      "GET",
      `/users/bob/calls?count=2&nextFlag=${first.body.nextFlag}`,
    );
    expect((second.body.callList as Array<{ callID: string }>).map((call) => call.callID)).toEqual([
      ids[0],
    ]);
    expect(second.body.nextFlag).toBe(0);
  });

  it("removing a user ends the calls they started and drops their push registrations", async () => {
    const api = await start();
    await api.call("POST", "/users", { userIDs: ["alice", "bob"] });
    await api.call("POST", "/users/alice/push-registrations", {
      deviceID: "alice-phone",
      target: { provider: "fcm", token: "fcm-alice" },
    });
    const created = await api.call("POST", "/calls", { caller: "alice", invitees: ["bob"] });
    const callID = created.body.callID as string;

    expect((await api.call("DELETE", "/users/alice")).status).toBe(204);

    const view = await api.call("GET", `/calls/${callID}`);
    expect(view.body).toMatchObject({
      state: CallState.Ended,
      members: [{ userID: "alice" }, { userID: "bob", state: CallUserState.Cancelled }],
    });
    expect((await api.call("GET", "/users/alice/push-registrations")).body).toEqual([]);
  });

  it("adds, lists and removes push registrations, one per device and provider", async () => {
    const api = await start();
    const first = await api.call("POST", "/users/bob/push-registrations", {
      deviceID: "bob-iphone",
      target: { provider: "apns", token: "ab".repeat(32) },
    });
    expect(first.body).toMatchObject({ target: { provider: "apns", voip: true } });
    const replaced = await api.call("POST", "/users/bob/push-registrations", {
      deviceID: "bob-iphone",
      target: { provider: "apns", token: "cd".repeat(32), voip: true },
    });
    const list = await api.call("GET", "/users/bob/push-registrations");
    expect(list.body).toEqual([replaced.body]);
    const bad = await api.call("POST", "/users/bob/push-registrations", {
      deviceID: "bob-iphone",
      target: { provider: "apns", token: "not hex" },
    });
    expect(bad).toMatchObject({ status: 400, body: { code: ErrorCode.ParamsInvalid } });
    const id = (replaced.body as { id: string }).id;
    expect((await api.call("DELETE", `/users/alice/push-registrations/${id}`)).status).toBe(404);
    expect((await api.call("DELETE", `/users/bob/push-registrations/${id}`)).status).toBe(204);
    expect((await api.call("GET", "/users/bob/push-registrations")).body).toEqual([]);
  });

  it("shows webhook deliveries with their attempts, the dead-letter list, and replays by id", async () => {
    const api = await start();
    const app = await new HttpReceiver().start();
    cleanups.push(() => app.stop());
    let healthy = false;
    app.responder = () => (healthy ? { status: 200 } : { status: 500, body: "nope" });
    await api.call("POST", "/users", { userIDs: ["alice", "bob"] });
    const endpoint = await api.call("POST", "/webhooks/endpoints", {
      url: app.url,
      events: ["call_create"],
    });
    await api.call("POST", "/calls", { caller: "alice", invitees: ["bob"] });
    await app.waitFor(2);
    await api.webhooks.settled();

    const dead = await api.call("GET", "/webhooks/deliveries?status=dead");
    const [delivery] = dead.body.deliveries as Array<{
      id: string;
      type: string;
      attempts: number;
    }>;
    expect(delivery).toMatchObject({
      type: "call_create",
      attempts: 2,
      status: "dead",
      endpointID: endpoint.body.id,
    });
    const detail = await api.call("GET", `/webhooks/deliveries/${delivery?.id}`);
    expect(
      (detail.body.attemptLog as Array<{ httpStatus: number }>).map((a) => a.httpStatus),
    ).toEqual([500, 500]);

    healthy = true;
    const replayed = await api.call("POST", `/webhooks/deliveries/${delivery?.id}/replay`);
    expect(replayed).toMatchObject({ status: 202, body: { id: delivery?.id, status: "pending" } });
    await app.waitFor(3);
    await api.webhooks.settled();
    expect((await api.call("GET", "/webhooks/deliveries?status=dead")).body.deliveries).toEqual([]);
    expect((await api.call("POST", "/webhooks/deliveries/msg_missing/replay")).status).toBe(404);
    const listed = await api.call("GET", "/webhooks/endpoints");
    expect(listed.body).toEqual([expect.not.objectContaining({ secret: expect.anything() })]);
    expect(
      (await api.call("GET", "/webhooks/endpoints", undefined, await api.keyFor("write"))).status,
    ).toBe(403);
  });

  it("lets a device register itself for push with its user's login token", async () => {
    const api = await start();
    expect(await api.call("GET", "/push/web-push-key", undefined, null)).toMatchObject({
      status: 200,
      body: { publicKey: api.vapid.publicKey },
    });
    const token = (await api.call("POST", "/users/bob/tokens", {})).body.token as string;
    const target = { provider: "fcm", token: "fcm-bob" };

    const added = await api.call(
      "POST",
      "/me/push-registrations",
      { deviceID: "bob-phone", target },
      token,
    );
    expect(added).toMatchObject({
      status: 201,
      body: { userID: "bob", deviceID: "bob-phone", target },
    });
    expect((await api.call("GET", "/me/push-registrations", undefined, token)).body).toEqual([
      added.body,
    ]);
    expect((await api.call("GET", "/users/bob/push-registrations")).body).toEqual([added.body]);

    const aliceToken = (await api.call("POST", "/users/alice/tokens", {})).body.token as string;
    const id = added.body.id as string;
    expect(
      (await api.call("DELETE", `/me/push-registrations/${id}`, undefined, aliceToken)).status,
    ).toBe(404);
    const withKey = await api.call(
      "GET",
      "/me/push-registrations",
      undefined,
      await api.keyFor("admin"),
    );
    expect(withKey).toMatchObject({ status: 401, body: { code: ErrorCode.TokenInvalid } });
    const internal = await api.call(
      "POST",
      "/me/push-registrations",
      {
        deviceID: "bob-web",
        target: {
          provider: "webpush",
          endpoint: "http://127.0.0.1:9/x",
          keys: { p256dh: "k", auth: "a" },
        },
      },
      token,
    );
    expect(internal).toMatchObject({ status: 400, body: { code: ErrorCode.ParamsInvalid } });
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await api.call("GET", "/me/push-registrations", undefined, forged)).status).toBe(401);
    expect(
      (await api.call("DELETE", `/me/push-registrations/${id}`, undefined, token)).status,
    ).toBe(204);
    expect((await api.call("GET", "/users/bob/push-registrations")).body).toEqual([]);
  });

  it("serves an OpenAPI 3.1 document generated from the request schemas", async () => {
    const api = await start();
    const response = await fetch(`${api.base}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >;
    };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        "/api/calls",
        "/api/calls/{callID}",
        "/api/calls/{callID}/accept",
        "/api/users/{userID}/calls",
        "/api/users/{userID}/tokens",
        "/api/users/{userID}/push-registrations",
        "/api/webhooks/deliveries/{deliveryID}/replay",
        "/api/me/push-registrations",
      ]),
    );
    const createCall =
      document.paths["/api/calls"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(JSON.stringify(createCall)).toContain("invitees");
  });

  it("manages keys through the API and the apikey command", async () => {
    const api = await start();
    const created = await api.call("POST", "/keys", { name: "backend", scopes: ["read"] });
    expect(created).toMatchObject({ status: 201, body: { name: "backend", scopes: ["read"] } });
    expect((await api.call("GET", "/users/x", undefined, created.body.key as string)).status).toBe(
      200,
    );
    expect(JSON.stringify((await api.call("GET", "/keys")).body)).not.toContain(
      created.body.key as string,
    );
    expect((await api.call("DELETE", `/keys/${created.body.id}`)).status).toBe(204);
    expect((await api.call("GET", "/users/x", undefined, created.body.key as string)).status).toBe(
      401,
    );

    const made = await runApikeyCommand(["create", "ops", "--scopes", "read,admin"], {
      dataDir: api.dir,
    });
    expect(made.exitCode).toBe(0);
    const key = made.output.split("\n")[0] as string;
    const db = openSqlite(join(api.dir, "beckon.db"));
    cleanups.push(() => {
      db.close();
    });
    const stored = new SqliteApiKeyStore(db);
    expect(await stored.verify(key, Date.now())).toMatchObject({
      name: "ops",
      scopes: ["read", "admin"],
    });
    const listed = await runApikeyCommand(["list"], { dataDir: api.dir });
    expect(listed.output).toContain("ops  read,admin");
    expect(listed.output).not.toContain(key);
    const id = (await stored.list())[0]?.id as string;
    expect(await runApikeyCommand(["revoke", id], { dataDir: api.dir })).toEqual({
      exitCode: 0,
      output: `revoked ${id}`,
    });
    expect(await stored.verify(key, Date.now())).toBeUndefined();
    expect(
      (await runApikeyCommand(["create", "x", "--scopes", "root"], { dataDir: api.dir })).exitCode,
    ).toBe(2);
    expect((await runApikeyCommand(["frobnicate"], { dataDir: api.dir })).exitCode).toBe(2);
  });
});
