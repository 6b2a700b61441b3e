// A call's per-device delivery timeline over real sockets: the server records when it sent each
// device the invitation and when each device acknowledged it; the members read it with the
// SDK's `callTimeline`, the app backend with `GET /api/calls/{callID}`; strangers learn nothing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallTimelineResult, CallUserState, ErrorCode } from "@beckon/protocol";
import { afterEach, expect, it } from "vitest";
import { SqliteApiKeyStore } from "../src/api/api-key-store.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { openRawSocket } from "./support/raw-socket.js";
import { useWorld } from "./support/world.js";

// Registered before the world's hooks, so it runs after them: a data dir goes once its server
// has stopped (after-hooks run last registered, first run).
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
const world = useWorld();

/** A node on a SQLite file, with a read API key made in that file beforehand. */
async function nodeWithApiKey() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-timeline-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, "beckon.db");
  const db = openSqlite(store);
  const { key } = await new SqliteApiKeyStore(db).create("test", ["read"], Date.now());
  db.close();
  const server = await world.server({ store });
  const api = async (path: string) => {
    const response = await fetch(`${server.httpUrl}/api${path}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { server, api };
}

function deviceIn(timeline: CallTimelineResult, userID: string, deviceID: string) {
  const device = timeline.devices.find((d) => d.userID === userID && d.deviceID === deviceID);
  if (!device) throw new Error(`no ${userID}/${deviceID} in ${JSON.stringify(timeline.devices)}`);
  return device;
}

/** alice rings bob, who has a phone and a laptop; the phone accepts. */
async function ringTwoDevices() {
  const { server, api } = await nodeWithApiKey();
  const alice = await world.device(server, "alice", { deviceID: "alice-desk" });
  const phone = await world.device(server, "bob", { deviceID: "phone" });
  const laptop = await world.device(server, "bob", { deviceID: "laptop" });
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
  await phone.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await laptop.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await phone.client.callAccept(callID, {});
  await alice.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted),
  );
  return { server, api, alice, phone, laptop, callID };
}

it("each device of the invitee was sent and acknowledged the ring; the one that accepted shows it", async () => {
  const { alice, phone, laptop, callID } = await ringTwoDevices();
  // The laptop's receipt went out before this request on the same socket, so it is in.
  const seenByLaptop = await laptop.client.callTimeline(callID);
  const seenByPhone = await phone.client.callTimeline(callID);
  const seenByCaller = await alice.client.callTimeline(callID);

  for (const timeline of [seenByLaptop, seenByPhone, seenByCaller]) {
    expect(timeline.callID).toBe(callID);
    const onPhone = deviceIn(timeline, "bob", "phone");
    const onLaptop = deviceIn(timeline, "bob", "laptop");
    for (const device of [onPhone, onLaptop]) {
      expect(device.sentAt).toBeTypeOf("number");
      expect(device.receivedAt).toBeTypeOf("number");
      expect(device.receivedAt).toBeGreaterThanOrEqual(device.sentAt as number);
      expect(device.pushes).toEqual([]);
    }
    expect(onPhone.answers).toEqual([{ kind: "member.accepted", at: expect.any(Number) }]);
    expect(onPhone.answers[0]?.at).toBeGreaterThanOrEqual(onPhone.receivedAt as number);
    expect(onLaptop.answers).toEqual([]);
    // The caller's device was never sent an invitation.
    expect(timeline.devices.some((d) => d.userID === "alice" && d.sentAt !== undefined)).toBe(
      false,
    );
  }

  const kinds = seenByCaller.entries.map((entry) => `${entry.kind} ${entry.deviceID ?? ""}`);
  expect(kinds).toEqual(
    expect.arrayContaining([
      "call.created alice-desk",
      "invitation.sent phone",
      "invitation.sent laptop",
      "invitation.received phone",
      "invitation.received laptop",
      "member.accepted phone",
    ]),
  );
  const times = seenByCaller.entries.map((entry) => entry.at);
  expect(times).toEqual([...times].sort((a, b) => a - b));
  // What a member is shown carries no operator details.
  expect(Object.keys(seenByCaller.entries[0] ?? {}).sort()).toEqual(
    expect.not.arrayContaining(["detail"]),
  );
});

it("the server API's call view has each device's sentAt and the sends in its timeline", async () => {
  const { api, laptop, callID } = await ringTwoDevices();
  // Waits for the laptop's receipt the same way (its next request follows its receipt).
  await laptop.client.callTimeline(callID);
  const view = await api(`/calls/${callID}`);
  expect(view.status).toBe(200);
  const devices = view.body.devices as Array<Record<string, unknown>>;
  for (const deviceID of ["phone", "laptop"]) {
    const device = devices.find((d) => d.userID === "bob" && d.deviceID === deviceID);
    expect(device?.sentAt).toBeTypeOf("number");
    expect(device?.receivedAt).toBeTypeOf("number");
  }
  const timeline = view.body.timeline as Array<{
    kind: string;
    deviceID?: string;
    detail: Record<string, unknown>;
  }>;
  const sends = timeline.filter((entry) => entry.kind === "invitation.sent");
  expect(sends.map((entry) => entry.deviceID).sort()).toEqual(["laptop", "phone"]);
  expect(sends[0]?.detail.deadline).toBeTypeOf("number");
});

it("a device that logs in while the call rings is sent the invitation then", async () => {
  const { server } = await nodeWithApiKey();
  const alice = await world.device(server, "alice");
  const phone = await world.device(server, "bob", { deviceID: "phone" });
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
  await phone.waitFor("callInvitationReceived", (e) => e.callID === callID);
  const tablet = await world.device(server, "bob", { deviceID: "tablet" });
  await tablet.waitFor("callInvitationReceived", (e) => e.callID === callID);
  const timeline = await tablet.client.callTimeline(callID);
  const onPhone = deviceIn(timeline, "bob", "phone");
  const onTablet = deviceIn(timeline, "bob", "tablet");
  expect(onTablet.sentAt).toBeGreaterThanOrEqual(onPhone.sentAt as number);
  expect(onTablet.receivedAt).toBeTypeOf("number");
});

it("someone outside the call gets what an unknown call gets", async () => {
  const { server, callID } = await ringTwoDevices();
  const carol = await world.device(server, "carol");
  const refusal = (callIDAsked: string) =>
    carol.client.callTimeline(callIDAsked).then(
      () => null,
      (error: unknown) => error as { code: number; message: string },
    );
  const [stranger, unknown] = await Promise.all([refusal(callID), refusal("no-such-call")]);
  expect(stranger).toMatchObject({ code: ErrorCode.CallDoesNotExist });
  expect(stranger?.message).toBe(unknown?.message);
  expect(stranger?.code).toBe(unknown?.code);
});

it("bad input gets a params error from the SDK and from the server", async () => {
  const { server } = await nodeWithApiKey();
  const alice = await world.device(server, "alice");
  await expect(alice.client.callTimeline("")).rejects.toMatchObject({
    code: ErrorCode.ParamsInvalid,
  });
  await expect(alice.client.callTimeline(42 as unknown as string)).rejects.toMatchObject({
    code: ErrorCode.ParamsInvalid,
  });

  const raw = await openRawSocket(server.url);
  try {
    const login = await raw.request(
      JSON.stringify({
        id: 1,
        op: "login",
        data: {
          protocolVersion: 1,
          userID: "dave",
          token: await world.token("dave"),
          deviceID: "raw",
        },
      }),
    );
    expect(login).toMatchObject({ id: 1, ok: true });
    for (const [id, data] of [
      [2, { callID: 42 }],
      [3, {}],
      [4, { callID: "" }],
      [5, { callID: "x".repeat(300) }],
    ] as const) {
      const reply = await raw.request(JSON.stringify({ id, op: "callTimeline", data }));
      expect(reply).toMatchObject({ id, ok: false, error: { code: ErrorCode.ParamsInvalid } });
      expect((reply.error as { message: string }).message).toMatch(/^callTimeline: callID: /);
    }
  } finally {
    await raw.close();
  }
});
