// Every SPEC §7 error that general mode can hit, through the SDK against a real server. A
// refused operation changes nothing: each case checks the call afterwards.
import { CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import { openRawSocket } from "./support/raw-socket.js";
import { type Device, useWorld } from "./support/world.js";

const world = useWorld();

async function threeUsers() {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const carol = await world.device(server, "carol");
  return { server, alice, bob, carol };
}

/** Waits until the caller has seen `userID`'s automatic receipt, so the call is at rest. */
async function settledReceipt(caller: Device, userID: string) {
  await caller.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === userID && u.state === CallUserState.Received),
  );
}

async function stateOf(device: Device, callID: string) {
  const { callList } = await device.client.queryCallInvitationList({ count: 100, nextFlag: 0 });
  const call = callList.find((c) => c.callID === callID);
  return call && { state: call.state, users: call.callUserList.map((u) => [u.userID, u.state]) };
}

describe("callInvite", () => {
  it.each([
    ["timeout above 600", { timeout: 601 }, ErrorCode.ParamsInvalid],
    ["negative timeout", { timeout: -1 }, ErrorCode.ParamsInvalid],
    ["fractional timeout", { timeout: 1.5 }, ErrorCode.ParamsInvalid],
    ["unknown mode", { mode: 7 }, ErrorCode.ParamsInvalid],
    ["extendedData over 2048 bytes", { extendedData: "é".repeat(1025) }, ErrorCode.ParamsInvalid],
  ])("%s -> %i", async (_name, config, code) => {
    const { alice, bob } = await threeUsers();
    await expect(alice.client.callInvite(["bob"], config as never)).rejects.toMatchObject({ code });
    expect(
      (await alice.client.queryCallInvitationList({ count: 10, nextFlag: 0 })).callList,
    ).toEqual([]);
    expect(bob.events("callInvitationReceived")).toEqual([]);
  });

  it("an empty invitee list -> 6000001", async () => {
    const { alice } = await threeUsers();
    await expect(alice.client.callInvite([], { timeout: 10 })).rejects.toMatchObject({
      code: ErrorCode.ParamsInvalid,
    });
  });

  it("more than nine invitees -> 6000272", async () => {
    const { server, alice } = await threeUsers();
    const ids = Array.from({ length: 10 }, (_, i) => `user${i}`);
    for (const id of ids) await world.device(server, id);
    await expect(alice.client.callInvite(ids, { timeout: 10 })).rejects.toMatchObject({
      code: ErrorCode.CallLimitExceeded,
    });
  });

  it("unknown users land in errorUserList; only unknown users -> 6000281", async () => {
    const { alice, bob } = await threeUsers();
    await expect(alice.client.callInvite(["ghost"], { timeout: 10 })).rejects.toMatchObject({
      code: ErrorCode.CallInviteUserDoesNotExist,
    });
    const sent = await alice.client.callInvite(["bob", "ghost", "bad user"], { timeout: 10 });
    expect(sent.errorUserList).toEqual([
      { userID: "ghost", reason: ErrorCode.CallInviteUserDoesNotExist },
      { userID: "bad user", reason: ErrorCode.ParamsInvalid },
    ]);
    await bob.waitFor("callInvitationReceived", (e) => e.callID === sent.callID);
  });

  it("a caller Accepted in a started call is busy -> 6000270", async () => {
    const { alice, bob, carol } = await threeUsers();
    const { callID } = await alice.client.callInvite(["bob", "carol"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived");
    await bob.client.callAccept(callID, {});
    // Bob is Accepted in a call that is still ringing for carol.
    await expect(bob.client.callInvite(["carol"], { timeout: 10 })).rejects.toMatchObject({
      code: ErrorCode.CallCommonError,
    });
    // Carol is only ringing, so she is not busy; busy bob may still receive her invitation.
    const other = await carol.client.callInvite(["bob"], { timeout: 10 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === other.callID);
  });
});

describe("answers and cancels", () => {
  it("accept/reject of an unknown call -> 6000276", async () => {
    const { bob } = await threeUsers();
    await expect(bob.client.callAccept("no-such-call", {})).rejects.toMatchObject({
      code: ErrorCode.CallDoesNotExist,
    });
    await expect(bob.client.callReject("no-such-call", {})).rejects.toMatchObject({
      code: ErrorCode.CallDoesNotExist,
    });
  });

  it("accept by someone not invited -> 6000274, and nothing changes", async () => {
    const { alice, carol } = await threeUsers();
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await settledReceipt(alice, "bob");
    const before = await stateOf(alice, callID);
    await expect(carol.client.callAccept(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallIsNotInvitee,
    });
    await expect(carol.client.callReject(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallIsNotInvitee,
    });
    expect(await stateOf(alice, callID)).toEqual(before);
  });

  it("answering twice, or answering one's own call -> 6000270", async () => {
    const { alice, bob, carol } = await threeUsers();
    const { callID } = await alice.client.callInvite(["bob", "carol"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived");
    await bob.client.callAccept(callID, {});
    await expect(bob.client.callAccept(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallCommonError,
    });
    await expect(bob.client.callReject(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallCommonError,
    });
    await expect(alice.client.callAccept(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallCommonError,
    });
    await carol.client.callReject(callID, {});
    await expect(carol.client.callAccept(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallCommonError,
    });
    expect(await stateOf(alice, callID)).toEqual({
      state: CallState.Ended,
      users: [
        ["alice", CallUserState.Accepted],
        ["bob", CallUserState.Accepted],
        ["carol", CallUserState.Rejected],
      ],
    });
  });

  it("cancel by anyone but the caller -> 6000273", async () => {
    const { alice, bob } = await threeUsers();
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await settledReceipt(alice, "bob");
    const before = await stateOf(alice, callID);
    await expect(bob.client.callCancel([], callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallIsNotInviter,
    });
    expect(await stateOf(alice, callID)).toEqual(before);
  });

  it("cancel after an accept, or of an ended call -> 6000271", async () => {
    const { alice, bob, carol } = await threeUsers();
    const first = await alice.client.callInvite(["bob", "carol"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived");
    await bob.client.callAccept(first.callID, {});
    await expect(alice.client.callCancel([], first.callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallCancelError,
    });
    expect((await stateOf(alice, first.callID))?.users).toContainEqual([
      "carol",
      CallUserState.Received,
    ]);
    await carol.client.callReject(first.callID, {});

    const second = await alice.client.callInvite(["carol"], { timeout: 30 });
    await carol.waitFor("callInvitationReceived", (e) => e.callID === second.callID);
    await carol.client.callReject(second.callID, {});
    await expect(alice.client.callCancel([], second.callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallCancelError,
    });
  });

  it("oversized extendedData on accept -> 6000001, and the invitee can still accept", async () => {
    const { alice, bob } = await threeUsers();
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived");
    await expect(
      bob.client.callAccept(callID, { extendedData: "x".repeat(2049) }),
    ).rejects.toMatchObject({
      code: ErrorCode.ParamsInvalid,
    });
    await expect(
      bob.client.callAccept(callID, { extendedData: "x".repeat(2048) }),
    ).resolves.toEqual({
      callID,
    });
  });
});

describe("sessions", () => {
  it("call methods before login -> 6000121 (SDK) and on a raw socket", async () => {
    const server = await world.server();
    const client = world.client(server.url);
    await expect(client.callInvite(["bob"], { timeout: 10 })).rejects.toMatchObject({
      code: ErrorCode.UserIsNotLogged,
    });
    const raw = await openRawSocket(server.url);
    try {
      const reply = await raw.request(
        JSON.stringify({ id: 1, op: "callInvite", data: { invitees: ["bob"] } }),
      );
      expect(reply).toMatchObject({ id: 1, ok: false, error: { code: ErrorCode.UserIsNotLogged } });
    } finally {
      await raw.close();
    }
  });

  it("a bad token -> 6000103, an expired one -> 6000106, a token of another user -> 6000103", async () => {
    const server = await world.server();
    const client = world.client(server.url);
    await expect(client.login("alice", { token: "not-a-jwt" })).rejects.toMatchObject({
      code: ErrorCode.TokenInvalid,
    });
    await expect(
      client.login("alice", { token: await world.token("alice", -10) }),
    ).rejects.toMatchObject({
      code: ErrorCode.TokenExpired,
    });
    await expect(
      client.login("alice", { token: await world.token("mallory") }),
    ).rejects.toMatchObject({
      code: ErrorCode.TokenInvalid,
    });
  });

  it("renewToken with a bad token -> 6000103; with a good one, the session goes on", async () => {
    const server = await world.server();
    const alice = await world.device(server, "alice");
    await expect(alice.client.renewToken("garbage")).rejects.toMatchObject({
      code: ErrorCode.TokenInvalid,
    });
    await expect(alice.client.renewToken(await world.token("alice", 3600))).resolves.toBeDefined();
    await world.device(server, "bob");
    await expect(alice.client.callInvite(["bob"], { timeout: 5 })).resolves.toMatchObject({
      errorUserList: [],
    });
  });

  it("tokenWillExpire fires before expiry, then the token expiry logs the device out", async () => {
    const server = await world.server({ tokenWarningSeconds: 30 });
    const client = world.client(server.url);
    const warned = new Promise<number>((resolve) =>
      client.on("tokenWillExpire", (_c, e) => resolve(e.second)),
    );
    const expired = new Promise<number>((resolve) =>
      client.on("connectionStateChanged", (_c, e) => {
        if (e.state === 0) resolve(e.event);
      }),
    );
    // A 31 s token warns 30 s before expiry, i.e. about a second after login.
    await client.login("alice", { token: await world.token("alice", 31) });
    expect(await warned).toBeGreaterThan(25);
    await client.renewToken(await world.token("alice", 1));
    expect(await expired).toBe(5);
  });

  it("a flood of requests -> 6000005 and the connection keeps serving", async () => {
    const server = await world.server({ rateLimit: { burst: 5, perSecond: 1 } });
    const raw = await openRawSocket(server.url);
    try {
      const codes: unknown[] = [];
      for (let id = 1; id <= 8; id++) {
        raw.socket.send(JSON.stringify({ id, op: "ping", data: {} }));
      }
      for (let i = 0; i < 8; i++) codes.push((await raw.next()) as unknown);
      const limited = codes.filter(
        (frame) =>
          (frame as { error?: { code: number } }).error?.code === ErrorCode.ServerFrequencyLimit,
      );
      expect(limited).toHaveLength(3);
    } finally {
      await raw.close();
    }
  });
});

it("two invitations sent at once by one caller: one call, the other is refused as busy", async () => {
  const { alice, bob, carol } = await threeUsers();
  const results = await Promise.allSettled([
    alice.client.callInvite(["bob"], { timeout: 30 }),
    alice.client.callInvite(["carol"], { timeout: 30 }),
  ]);
  expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  expect(results.find((r) => r.status === "rejected")).toMatchObject({
    reason: { code: ErrorCode.CallCommonError },
  });
  const { callList } = await alice.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
  expect(callList).toHaveLength(1);
  expect(
    bob.events("callInvitationReceived").length + carol.events("callInvitationReceived").length,
  ).toBeLessThanOrEqual(1);
});
