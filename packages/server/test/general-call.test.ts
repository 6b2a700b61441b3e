// General-mode calls end to end: SDK -> WebSocket -> server -> engine -> SQLite -> other SDKs.
import type { Socket } from "node:net";
import { CallState, CallUserState } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import { MemoryPresence } from "../src/presence/memory-presence.js";
import { openRawSocket, type RawSocket } from "./support/raw-socket.js";
import { type Device, useWorld } from "./support/world.js";

const world = useWorld();

async function setup(inviteeCount: number) {
  const server = await world.server();
  const caller = await world.device(server, "caller");
  const invitees: Device[] = [];
  for (let i = 1; i <= inviteeCount; i++) invitees.push(await world.device(server, `invitee${i}`));
  return { server, caller, invitees };
}

/** Every device's view of the call, read from the server, must agree on every member. */
async function listedStates(device: Device, callID: string) {
  const { callList } = await device.client.queryCallInvitationList({ count: 100, nextFlag: 0 });
  const call = callList.find((entry) => entry.callID === callID);
  if (!call) throw new Error(`${device.userID} does not see call ${callID}`);
  return {
    state: call.state,
    users: Object.fromEntries(call.callUserList.map((user) => [user.userID, user.state])),
  };
}

describe.each([1, 3])("a general call from 1 caller to %i invitee(s)", (inviteeCount) => {
  it("rings every invitee, who acknowledge receipt", async () => {
    const { caller, invitees } = await setup(inviteeCount);
    const ids = invitees.map((d) => d.userID);
    const sent = await caller.client.callInvite(ids, { timeout: 30, extendedData: "hello" });
    expect(sent.errorUserList).toEqual([]);
    expect(sent.timeout).toBe(30);

    const created = await caller.waitFor("callInvitationCreated", (e) => e.callID === sent.callID);
    expect(created.caller).toBe("caller");
    for (const invitee of invitees) {
      const received = await invitee.waitFor("callInvitationReceived");
      expect(received).toMatchObject({
        callID: sent.callID,
        caller: "caller",
        inviter: "caller",
        extendedData: "hello",
        timeout: 30,
        mode: 0,
      });
      expect(received.deadline).toBe(received.createTime + 30_000);
    }
    // The SDK's automatic acknowledgement moves every invitee to Received, and the caller sees it.
    for (const id of ids) {
      await caller.waitFor("callUserStateChanged", (e) =>
        e.callUserList.some((u) => u.userID === id && u.state === CallUserState.Received),
      );
    }
    expect((await listedStates(caller, sent.callID)).users).toEqual({
      caller: CallUserState.Accepted,
      ...Object.fromEntries(ids.map((id) => [id, CallUserState.Received])),
    });
  });

  it("cancel stops every invitee's ringing and ends the call", async () => {
    const { caller, invitees } = await setup(inviteeCount);
    const { callID } = await caller.client.callInvite(
      invitees.map((d) => d.userID),
      { timeout: 30 },
    );
    await Promise.all(invitees.map((d) => d.waitFor("callInvitationReceived")));
    const result = await caller.client.callCancel([], callID, { extendedData: "bye" });
    expect(result).toEqual({ callID, errorInvitees: [] });
    for (const invitee of invitees) {
      const cancelled = await invitee.waitFor("callInvitationCancelled");
      expect(cancelled).toMatchObject({ callID, inviter: "caller", extendedData: "bye", mode: 0 });
    }
    const listed = await listedStates(invitees[0] as Device, callID);
    expect(listed.state).toBe(CallState.Ended);
    for (const invitee of invitees)
      expect(listed.users[invitee.userID]).toBe(CallUserState.Cancelled);
  });

  it("accept is seen by the caller and every other invitee", async () => {
    const { caller, invitees } = await setup(inviteeCount);
    const { callID } = await caller.client.callInvite(
      invitees.map((d) => d.userID),
      { timeout: 30 },
    );
    const [first, ...others] = invitees as [Device, ...Device[]];
    await first.waitFor("callInvitationReceived");
    await expect(first.client.callAccept(callID, { extendedData: "yes" })).resolves.toEqual({
      callID,
    });
    const isAccept = (e: {
      callUserList: { userID: string; state: number; extendedData: string }[];
    }) =>
      e.callUserList.some(
        (u) =>
          u.userID === first.userID &&
          u.state === CallUserState.Accepted &&
          u.extendedData === "yes",
      );
    await caller.waitFor("callUserStateChanged", isAccept);
    for (const other of others) await other.waitFor("callUserStateChanged", isAccept);
    // One answer does not end a general call while others are still ringing.
    expect((await listedStates(caller, callID)).state).toBe(
      others.length > 0 ? CallState.Started : CallState.Ended,
    );
  });

  it("reject is seen by the caller; the call ends once nobody is left ringing", async () => {
    const { caller, invitees } = await setup(inviteeCount);
    const { callID } = await caller.client.callInvite(
      invitees.map((d) => d.userID),
      { timeout: 30 },
    );
    for (const invitee of invitees) {
      await invitee.waitFor("callInvitationReceived");
      await invitee.client.callReject(callID, { extendedData: "busy" });
      await caller.waitFor("callUserStateChanged", (e) =>
        e.callUserList.some(
          (u) => u.userID === invitee.userID && u.state === CallUserState.Rejected,
        ),
      );
    }
    const listed = await listedStates(caller, callID);
    expect(listed.state).toBe(CallState.Ended);
    expect(invitees.map((d) => listed.users[d.userID])).toEqual(
      invitees.map(() => CallUserState.Rejected),
    );
  });

  it("an unanswered invitation times out once, for the invitee and the caller", async () => {
    const { caller, invitees } = await setup(inviteeCount);
    const { callID } = await caller.client.callInvite(
      invitees.map((d) => d.userID),
      { timeout: 1 },
    );
    for (const invitee of invitees) {
      await invitee.waitFor("callInvitationTimeout", (e) => e.callID === callID);
      await caller.waitFor("callUserStateChanged", (e) =>
        e.callUserList.some(
          (u) => u.userID === invitee.userID && u.state === CallUserState.Timeout,
        ),
      );
    }
    const listed = await listedStates(caller, callID);
    expect(listed.state).toBe(CallState.Ended);
    for (const invitee of invitees) {
      expect(invitee.events("callInvitationTimeout", callID)).toHaveLength(1);
      expect(listed.users[invitee.userID]).toBe(CallUserState.Timeout);
    }
  });
});

describe("receipt checks", () => {
  it("an invitee who logs in late goes NotYetReceived, then Received", async () => {
    const server = await world.server({ notReceivedCheckMs: 3_000 });
    const caller = await world.device(server, "caller");
    // Log in once so the user is known, then leave.
    const once = await world.device(server, "late");
    await once.client.logout();
    const { callID } = await caller.client.callInvite(["late"], {
      timeout: 30,
      enableNotReceivedCheck: true,
    });
    await caller.waitFor("callUserStateChanged", (e) =>
      e.callUserList.some((u) => u.userID === "late" && u.state === CallUserState.NotYetReceived),
    );
    const late = await world.device(server, "late");
    const received = await late.waitFor("callInvitationReceived", (e) => e.callID === callID);
    expect(received.deadline).toBeGreaterThan(Date.now());
    await caller.waitFor("callUserStateChanged", (e) =>
      e.callUserList.some((u) => u.userID === "late" && u.state === CallUserState.Received),
    );
  });
});

/** A bare socket logged in as `userID` (device "raw"), for frames the SDK would hide. */
async function rawDevice(url: string, userID: string): Promise<RawSocket> {
  const raw = await openRawSocket(url);
  try {
    const token = await world.token(userID);
    const login = { protocolVersion: 1, userID, token, deviceID: "raw" };
    expect(await raw.request(JSON.stringify({ id: 1, op: "login", data: login }))).toMatchObject({
      ok: true,
    });
    return raw;
  } catch (error) {
    await raw.close();
    throw error;
  }
}

it("the caller's reply comes before the events about its new call, in the same write", async () => {
  const server = await world.server();
  await world.device(server, "bob");
  const raw = await rawDevice(server.url, "alice");
  try {
    // What the kernel hands the client per read: one write of the server's arrives as one read.
    const tcp = (raw.socket as unknown as { _socket: Socket })._socket;
    const reads: Buffer[] = [];
    tcp.on("data", (chunk: Buffer) => reads.push(chunk));
    const invite = { invitees: ["bob"], timeout: 30 };
    const reply = await raw.request(JSON.stringify({ id: 2, op: "callInvite", data: invite }));
    expect(reply).toMatchObject({ id: 2, ok: true });
    const event = await raw.next();
    expect(event).toMatchObject({
      ev: "callInvitationCreated",
      seq: 1,
      data: { callID: (reply.data as { callID: string }).callID },
    });
    expect(reads).toHaveLength(1);
  } finally {
    await raw.close();
  }
});

/**
 * Memory presence without its synchronous read, so the call service waits for every look-up (as
 * with Redis), and the next look-up once armed held until released.
 */
function slowPresence() {
  const inner = new MemoryPresence();
  let armed = false;
  let held: string | null = null;
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const presence = new Proxy(inner, {
    get(target, key) {
      if (key === "devicesNow") return undefined;
      if (key === "devicesOf") {
        return async (userID: string) => {
          if (armed) {
            armed = false;
            held = userID;
            await gate;
          }
          return target.devicesOf(userID);
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { presence, holdNext: () => (armed = true), held: () => held, release: () => release() };
}

it("a call's events reach a device in order while a presence look-up is slow", async () => {
  const slow = slowPresence();
  const server = await world.server({ services: { presence: slow.presence } });
  const alice = await world.device(server, "alice");
  const raw = await rawDevice(server.url, "bob");
  try {
    // The invitation's publish waits on its first look-up; the cancel's goes ahead of it unless
    // the call's publishes keep their order.
    slow.holdNext();
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await alice.client.callCancel([], callID, {});
    expect(["alice", "bob"]).toContain(slow.held());
    slow.release();
    const seen: unknown[] = [];
    for (;;) {
      const frame = await raw.next();
      seen.push(frame.ev);
      if (frame.ev === "callInvitationCancelled") break;
    }
    expect(seen[0]).toBe("callInvitationReceived");
  } finally {
    await raw.close();
  }
});

it("a receipt (callAck) gets no reply when it succeeds, and an error reply when it fails", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const raw = await rawDevice(server.url, "bob");
  try {
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    expect(await raw.next()).toMatchObject({ ev: "callInvitationReceived", data: { callID } });
    raw.socket.send(JSON.stringify({ id: 2, op: "callAck", data: { callID } }));
    raw.socket.send(JSON.stringify({ id: 3, op: "ping", data: {} }));
    raw.socket.send(JSON.stringify({ id: 4, op: "callAck", data: { callID: "nope" } }));
    // Every reply that comes back: the ping's and the failed receipt's, none for the good one.
    const replies: unknown[] = [];
    while (replies.length < 2) {
      const frame = await raw.next();
      if ("id" in frame) replies.push(frame);
    }
    expect(replies).toMatchObject([
      { id: 3, ok: true },
      { id: 4, ok: false, error: { code: 6000276 } },
    ]);
  } finally {
    await raw.close();
  }
});
