// The push hook on committed facts: who is pushed, once per registration, what a cancel/end
// reaches, expired registrations, and that a slow provider never holds up the relay.
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyCommand,
  type Call,
  type CallCommand,
  createCall,
  defaultEngineSettings,
  type Fact,
  timersOf,
} from "@beckon/engine";
import { CallInvitationMode, type PushConfig } from "@beckon/protocol";
import type Database from "better-sqlite3";
import { decrypt } from "http_ece";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryPresence } from "../src/presence/memory-presence.js";
import { PushDispatcher } from "../src/push/push-dispatcher.js";
import { PushHook } from "../src/push/push-hook.js";
import { SqlitePushRegistrationStore } from "../src/push/push-registration-store.js";
import type { PushTarget } from "../src/push/push-types.js";
import { loadOrCreateVapidKeys } from "../src/push/vapid-keys.js";
import { WebPushProvider } from "../src/push/web-push-provider.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { timerChange } from "../src/store/call-store.js";
import { SqliteCallStore } from "../src/store/sqlite-call-store.js";
import { HttpReceiver } from "./support/http-receiver.js";

const PUSH: PushConfig = { title: "Alice calls", content: "Tap to answer", payload: "p-1" };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Who is attached where, as the session service reports it. */

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-push-hook-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const service = await new HttpReceiver().start();
  cleanups.push(() => service.stop());
  const calls = new SqliteCallStore(":memory:");
  cleanups.push(() => calls.close());
  const db: Database.Database = openSqlite(":memory:");
  cleanups.push(() => {
    db.close();
  });
  const registrations = new SqlitePushRegistrationStore(db);
  const outcomes: string[] = [];
  const dispatcher = new PushDispatcher({
    providers: [
      new WebPushProvider({ keys: loadOrCreateVapidKeys(dir), subject: "mailto:t@example.com" }),
    ],
    registrations,
    retryBaseMs: 5,
    onOutcome: (outcome) =>
      outcomes.push(`${outcome.send.kind}:${outcome.result.ok ? "ok" : outcome.result.reason}`),
  });
  cleanups.push(() => dispatcher.close());
  const sessions = new MemoryPresence();
  const hook = new PushHook({ calls, presence: sessions, registrations, dispatcher });
  let version = 0;

  /** Commits a decision like the call service does, then relays its facts to the hook. */
  async function relay(before: Call | null, call: Call, facts: Fact[]) {
    const result = await calls.commit({
      call,
      before,
      timers: timerChange(
        before ? timersOf(before, defaultEngineSettings) : [],
        timersOf(call, defaultEngineSettings),
      ),
      facts,
    });
    expect(result).toEqual({ ok: true });
    version++;
    for (const [index, fact] of facts.entries()) {
      await hook.onFact(fact, {
        id: `${call.callID}:${call.version}:${index}`,
        version: call.version,
      });
    }
    return facts;
  }

  async function invite(
    invitees: string[],
    mode = CallInvitationMode.General,
    pushConfig: PushConfig | null = PUSH,
  ) {
    const decision = createCall(
      {
        type: "invite",
        actor: { userID: "alice", deviceID: "alice-web" },
        callID: randomBytes(16).toString("base64url"),
        invitees,
        timeout: 30,
        mode,
        ...(pushConfig ? { pushConfig } : {}),
        knownUsers: new Set(invitees),
        callerBusy: false,
      },
      Date.now(),
      defaultEngineSettings,
    );
    if (!decision.ok) throw decision.error;
    const facts = await relay(null, decision.call, decision.facts);
    return { call: decision.call, facts };
  }

  async function command(call: Call, cmd: CallCommand) {
    const decision = applyCommand(call, cmd, Date.now(), defaultEngineSettings);
    if (!decision.ok) throw decision.error;
    await relay(call, decision.call, decision.facts);
    return decision.call;
  }

  function subscribe(path: string) {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const target: PushTarget = {
      provider: "webpush",
      endpoint: `${service.url}${path}`,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    };
    const open = (body: Buffer) =>
      JSON.parse(
        decrypt(body, { version: "aes128gcm", privateKey: ecdh, authSecret: auth }).toString(
          "utf8",
        ),
      );
    return { target, open };
  }

  return {
    service,
    registrations,
    dispatcher,
    sessions,
    hook,
    invite,
    command,
    subscribe,
    outcomes,
    version: () => version,
  };
}

describe("push hook", () => {
  it("pushes an invitation to each registration of an invitee with no attached device, once", async () => {
    const world = await setup();
    const phone = world.subscribe("/bob-phone");
    const laptop = world.subscribe("/bob-laptop");
    await world.registrations.add("bob", "bob-phone", phone.target, 1);
    await world.registrations.add("bob", "bob-laptop", laptop.target, 2);
    await world.sessions.join(
      { userID: "carol", deviceID: "carol-web", nodeID: "n1", loginTime: 1, awaySince: 0 },
      10,
    );
    await world.registrations.add("carol", "carol-web", world.subscribe("/carol").target, 3);

    const { call, facts } = await world.invite(["bob", "carol"]);
    // The relay delivers at least once: the same facts again push nothing more.
    for (const [index, fact] of facts.entries()) {
      await world.hook.onFact(fact, {
        id: `${call.callID}:${call.version}:${index}`,
        version: call.version,
      });
    }
    await world.dispatcher.idle();

    expect(world.service.requests.map((request) => request.path).sort()).toEqual([
      "/bob-laptop",
      "/bob-phone",
    ]);
    const bob = call.members.find((member) => member.userID === "bob");
    const body = phone.open(
      world.service.requests.find((r) => r.path === "/bob-phone")?.body as Buffer,
    );
    expect(body).toMatchObject({
      kind: "invite",
      callID: call.callID,
      caller: "alice",
      operatedUserID: "alice",
      mode: CallInvitationMode.General,
      deadline: bob?.deadline,
      title: "Alice calls",
      content: "Tap to answer",
      payload: "p-1",
    });
    expect(
      (await world.registrations.sendsOf(call.callID)).map((send) => [
        send.userID,
        send.kind,
        send.status,
      ]),
    ).toEqual([
      ["bob", "invite", "sent"],
      ["bob", "invite", "sent"],
    ]);
  });

  it("pushes a device whose session only waits to be resumed (its socket is gone)", async () => {
    const world = await setup();
    await world.registrations.add("bob", "bob-phone", world.subscribe("/bob-phone").target, 1);
    await world.sessions.join(
      { userID: "bob", deviceID: "bob-phone", nodeID: "n1", loginTime: 1, awaySince: 0 },
      10,
    );
    await world.sessions.mark({ userID: "bob", deviceID: "bob-phone" }, "n1", Date.now());
    await world.invite(["bob"]);
    const [request] = await world.service.waitFor(1);
    expect(request?.path).toBe("/bob-phone");
  });

  it("pushes nothing for a call without a pushConfig", async () => {
    const world = await setup();
    await world.registrations.add("bob", "bob-phone", world.subscribe("/bob").target, 1);
    const { call } = await world.invite(["bob"], CallInvitationMode.General, null);
    await world.dispatcher.idle();
    expect(await world.registrations.sendsOf(call.callID)).toEqual([]);
    expect(world.service.requests).toHaveLength(0);
  });

  it("pushes a cancel with a pushConfig to each device pushed the invitation, once per device", async () => {
    const world = await setup();
    const phone = world.subscribe("/bob-phone");
    await world.registrations.add("bob", "bob-phone", phone.target, 1);
    await world.registrations.add(
      "carol",
      "carol-phone",
      world.subscribe("/carol-phone").target,
      1,
    );
    await world.sessions.join(
      { userID: "carol", deviceID: "carol-web", nodeID: "n1", loginTime: 1, awaySince: 0 },
      10,
    );
    const { call } = await world.invite(["bob", "carol"]);
    await world.service.waitFor(1);
    // The cancel also ends the general call: two facts of one commit, one push per device.
    await world.command(call, {
      type: "cancel",
      actor: { userID: "alice", deviceID: "alice-web" },
      invitees: [],
      pushConfig: { title: "Missed call", content: "Alice hung up", payload: "" },
    });
    await world.dispatcher.idle();

    const bobRequests = world.service.requests.filter((request) => request.path === "/bob-phone");
    expect(bobRequests.map((request) => phone.open(request.body).kind)).toEqual([
      "invite",
      "cancel",
    ]);
    expect(phone.open(bobRequests[1]?.body as Buffer)).toMatchObject({
      callID: call.callID,
      operatedUserID: "alice",
      deadline: 0,
      title: "Missed call",
    });
    expect(world.service.requests.some((request) => request.path === "/carol-phone")).toBe(false);
  });

  it("pushes an advanced call's end to the pushed members other than the one who ended it", async () => {
    const world = await setup();
    const bob = world.subscribe("/bob");
    await world.registrations.add("bob", "bob-phone", bob.target, 1);
    const { call } = await world.invite(["bob", "carol"], CallInvitationMode.Advanced);
    await world.service.waitFor(1);
    await world.command(call, {
      type: "end",
      actor: { userID: "alice", deviceID: "alice-web" },
      pushConfig: PUSH,
    });
    await world.dispatcher.idle();
    expect(world.service.requests.map((request) => bob.open(request.body).kind)).toEqual([
      "invite",
      "end",
    ]);
  });

  it("removes a registration the push service calls gone", async () => {
    const world = await setup();
    world.service.responder = () => ({ status: 410, body: "expired" });
    const registration = await world.registrations.add(
      "bob",
      "bob-phone",
      world.subscribe("/bob").target,
      1,
    );
    const { call } = await world.invite(["bob"]);
    await world.dispatcher.idle();
    expect(await world.registrations.get(registration.id)).toBeUndefined();
    expect((await world.registrations.sendsOf(call.callID))[0]).toMatchObject({
      status: "expired",
      httpStatus: 410,
    });
  });

  it("retries a push the service refused for now, and records the outcome of every try", async () => {
    const world = await setup();
    let answers = 0;
    world.service.responder = () =>
      ++answers === 1 ? { status: 503, body: "busy" } : { status: 201 };
    await world.registrations.add("bob", "bob-phone", world.subscribe("/bob").target, 1);
    const { call } = await world.invite(["bob"]);
    await world.dispatcher.idle();
    expect(world.outcomes).toEqual(["invite:busy", "invite:ok"]);
    expect((await world.registrations.sendsOf(call.callID))[0]?.status).toBe("sent");
  });

  it("returns to the relay while the provider has not answered", async () => {
    const world = await setup();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    world.service.responder = async () => {
      await held;
      return { status: 201 };
    };
    await world.registrations.add("bob", "bob-phone", world.subscribe("/bob").target, 1);
    // The hook resolved, so the relay moves on, while the push is still held at the provider.
    const { call } = await world.invite(["bob"]);
    await world.service.waitFor(1);
    expect((await world.registrations.sendsOf(call.callID))[0]?.status).toBe("queued");
    release();
    await world.dispatcher.idle();
    expect((await world.registrations.sendsOf(call.callID))[0]?.status).toBe("sent");
  });
});
