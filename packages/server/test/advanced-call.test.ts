// Advanced-mode calls end to end: invite more people mid-call, join, switch devices, quit,
// withdraw some invitations, end — and the limits and errors that go with them.
import { CallInvitationMode, CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import { type Device, useWorld } from "./support/world.js";

const world = useWorld();
const ADVANCED = { mode: CallInvitationMode.Advanced, timeout: 60 };

type StateList = { callUserList: { userID: string; state: number }[] };
const has = (userID: string, state: CallUserState) => (e: StateList) =>
  e.callUserList.some((u) => u.userID === userID && u.state === state);

async function listed(device: Device, callID: string) {
  const { callList } = await device.client.queryCallInvitationList({ count: 20, nextFlag: 0 });
  const call = callList.find((c) => c.callID === callID);
  if (!call) throw new Error(`${device.userID} does not see ${callID}`);
  return call;
}

it("a 4-person call: mid-call invite, outsider join, device switch, quit, partial cancel, end", async () => {
  const server = await world.server();
  const [alice, bob, carol, dave, erin, frank] = await Promise.all(
    ["alice", "bob", "carol", "dave", "erin", "frank"].map((u) => world.device(server, u)),
  );
  const { callID } = await alice!.client.callInvite(["bob", "carol"], ADVANCED);
  await bob!.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await bob!.client.callAccept(callID, {});
  await carol!.client.callAccept(callID, {});
  await alice!.waitFor("callUserStateChanged", has("carol", CallUserState.Accepted));
  // An advanced call goes on after everyone answered.
  expect((await listed(alice!, callID)).state).toBe(CallState.Started);

  // Bob (Accepted) invites dave mid-call; everyone in the call sees dave ringing.
  const more = await bob!.client.callingInvite(["dave", "erin"], callID, {});
  expect(more).toEqual({ callID, errorUserList: [] });
  const ring = await dave!.waitFor("callInvitationReceived", (e) => e.callID === callID);
  expect(ring).toMatchObject({ inviter: "bob", caller: "alice", timeout: 60, mode: 1 });
  await carol!.waitFor("callUserStateChanged", has("dave", CallUserState.Inviting));
  await dave!.client.callAccept(callID, { extendedData: "hi" });
  await alice!.waitFor("callUserStateChanged", has("dave", CallUserState.Accepted));

  // Bob withdraws his invitation to erin (BeCancelled); the call goes on.
  await erin!.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await expect(alice!.client.callCancel(["erin"], callID, {})).rejects.toMatchObject({
    code: ErrorCode.CallIsNotInviter,
  });
  await expect(
    bob!.client.callCancel(["erin"], callID, { extendedData: "sorry" }),
  ).resolves.toEqual({
    callID,
    errorInvitees: [],
  });
  const withdrawn = await erin!.waitFor("callInvitationCancelled", (e) => e.callID === callID);
  expect(withdrawn).toMatchObject({ inviter: "bob", extendedData: "sorry" });
  await alice!.waitFor("callUserStateChanged", has("erin", CallUserState.BeCancelled));

  // Frank, an outsider who knows the callID, joins.
  const joined = await frank!.client.callJoin(callID, { extendedData: "me too" });
  expect(joined.callID).toBe(callID);
  expect(joined.callUserList.find((u) => u.userID === "frank")?.state).toBe(CallUserState.Accepted);
  await alice!.waitFor("callUserStateChanged", has("frank", CallUserState.Accepted));
  await expect(frank!.client.callJoin(callID, {})).rejects.toMatchObject({
    code: ErrorCode.CallUserAlreadyInTheCall,
  });

  // Carol moves the call to her laptop: the laptop acts for her, nobody else is told.
  const carolLaptop = await world.device(server, "carol", { deviceID: "laptop" });
  const aliceEventsBefore = alice!.events("callUserStateChanged", callID).length;
  await carolLaptop.client.callJoin(callID, {});
  await expect(carolLaptop.client.callJoin(callID, {})).rejects.toMatchObject({
    code: ErrorCode.CallUserAlreadyInTheCall,
  });
  // Dave quits; alice hears of it, and so does dave himself.
  const quit = await dave!.client.callQuit(callID, { extendedData: "bye" });
  expect(quit.quitTime).toBeGreaterThanOrEqual(quit.acceptTime);
  await dave!.waitFor("callUserStateChanged", has("dave", CallUserState.Quit));
  await alice!.waitFor("callUserStateChanged", has("dave", CallUserState.Quit));
  // The only change alice heard since the device switch is dave quitting.
  expect(
    alice!
      .events("callUserStateChanged", callID)
      .slice(aliceEventsBefore)
      .map((e) => e.callUserList),
  ).toEqual([[{ userID: "dave", state: CallUserState.Quit, extendedData: "bye" }]]);
  // Carol's laptop now gets her events, her phone no longer does.
  await carolLaptop.waitFor("callUserStateChanged", has("dave", CallUserState.Quit));
  expect(carol!.events("callUserStateChanged", callID).some(has("dave", CallUserState.Quit))).toBe(
    false,
  );

  // Bob ends the call for everyone still in it; states stay as they were.
  const ended = await bob!.client.callEnd(callID, { extendedData: "done" });
  expect(ended.endTime).toBeGreaterThan(0);
  for (const device of [alice!, carolLaptop, frank!]) {
    const event = await device.waitFor("callInvitationEnded", (e) => e.callID === callID);
    expect(event).toMatchObject({ operatedUserID: "bob", extendedData: "done", caller: "alice" });
  }
  expect(dave!.events("callInvitationEnded", callID)).toEqual([]);
  const final = await listed(alice!, callID);
  expect(final.state).toBe(CallState.Ended);
  expect(Object.fromEntries(final.callUserList.map((u) => [u.userID, u.state]))).toEqual({
    alice: CallUserState.Accepted,
    bob: CallUserState.Accepted,
    carol: CallUserState.Accepted,
    dave: CallUserState.Quit,
    erin: CallUserState.BeCancelled,
    frank: CallUserState.Accepted,
  });
  await expect(bob!.client.callEnd(callID, {})).rejects.toMatchObject({
    code: ErrorCode.CallCommonError,
  });
});

it("an advanced call ends by itself when the last active member quits", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const { callID } = await alice.client.callInvite(["bob"], ADVANCED);
  await bob.waitFor("callInvitationReceived");
  await bob.client.callAccept(callID, {});
  await alice.client.callQuit(callID, {});
  expect((await listed(bob, callID)).state).toBe(CallState.Started);
  await bob.client.callQuit(callID, {});
  expect((await listed(bob, callID)).state).toBe(CallState.Ended);
});

it("a previously terminal user may be invited again", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const carol = await world.device(server, "carol");
  const { callID } = await alice.client.callInvite(["bob", "carol"], ADVANCED);
  await bob.waitFor("callInvitationReceived");
  await bob.client.callReject(callID, {});
  await carol.client.callAccept(callID, {});
  await alice.client.callingInvite(["bob"], callID, {});
  await bob.waitFor(
    "callInvitationReceived",
    (e) =>
      e.inviter === "alice" &&
      e.callUserList.some((u) => u.userID === "carol" && u.state === CallUserState.Accepted),
  );
  expect(bob.events("callInvitationReceived", callID)).toHaveLength(2);
  await bob.client.callAccept(callID, {});
  await carol.waitFor("callUserStateChanged", has("bob", CallUserState.Accepted));
});

describe("limits and errors", () => {
  it("a call holds at most 10 active members -> 6000272", async () => {
    const server = await world.server();
    const users = Array.from({ length: 11 }, (_, i) => `u${i}`);
    const devices = await Promise.all(users.map((u) => world.device(server, u)));
    const [host, ...rest] = devices as [Device, ...Device[]];
    const { callID } = await host.client.callInvite(
      rest.slice(0, 9).map((d) => d.userID),
      ADVANCED,
    );
    await rest[0]!.waitFor("callInvitationReceived");
    await rest[0]!.client.callAccept(callID, {});
    await expect(rest[0]!.client.callingInvite(["u10"], callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallLimitExceeded,
    });
    await expect(rest[9]!.client.callJoin(callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallLimitExceeded,
    });
    // Once someone leaves there is room again.
    await rest[1]!.client.callReject(callID, {});
    await expect(rest[9]!.client.callJoin(callID, {})).resolves.toMatchObject({ callID });
  });

  it("advanced-only operations on a general call -> 6000286", async () => {
    const server = await world.server();
    const alice = await world.device(server, "alice");
    const bob = await world.device(server, "bob");
    const carol = await world.device(server, "carol");
    const { callID } = await alice.client.callInvite(["bob", "carol"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived");
    await bob.client.callAccept(callID, {});
    for (const attempt of [
      () => bob.client.callingInvite(["carol"], callID, {}),
      () => carol.client.callJoin(callID, {}),
      () => bob.client.callQuit(callID, {}),
      () => bob.client.callEnd(callID, {}),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: ErrorCode.CallModeMismatch });
    }
  });

  it("only Accepted members may invite, quit or end -> 6000270; unknown call -> 6000276", async () => {
    const server = await world.server();
    const alice = await world.device(server, "alice");
    const bob = await world.device(server, "bob");
    const carol = await world.device(server, "carol");
    const { callID } = await alice.client.callInvite(["bob"], ADVANCED);
    await bob.waitFor("callInvitationReceived");
    for (const attempt of [
      () => bob.client.callingInvite(["carol"], callID, {}),
      () => bob.client.callQuit(callID, {}),
      () => bob.client.callEnd(callID, {}),
      () => carol.client.callQuit(callID, {}),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: ErrorCode.CallCommonError });
    }
    await expect(bob.client.callJoin("nope", {})).rejects.toMatchObject({
      code: ErrorCode.CallDoesNotExist,
    });
    await expect(alice.client.callingInvite(["ghost"], callID, {})).rejects.toMatchObject({
      code: ErrorCode.CallInviteUserDoesNotExist,
    });
    const again = await alice.client.callingInvite(["bob", "carol"], callID, {});
    expect(again.errorUserList).toEqual([
      { userID: "bob", reason: ErrorCode.CallUserAlreadyInTheCall },
    ]);
  });
});
