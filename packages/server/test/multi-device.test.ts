// One user on several devices: every device rings, the one that answers takes the call, and the
// others get one last state change so they stop ringing.
import { CallInvitationMode, CallUserState } from "@beckon/protocol";
import { expect, it } from "vitest";
import { type Device, useWorld } from "./support/world.js";

const world = useWorld();

it("both devices ring; one accepts; the other stops with one last state change", async () => {
  const server = await world.server();
  const caller = await world.device(server, "caller");
  const phone = await world.device(server, "bob", { deviceID: "phone" });
  const laptop = await world.device(server, "bob", { deviceID: "laptop" });
  const { callID } = await caller.client.callInvite(["bob"], { timeout: 30 });
  await phone.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await laptop.waitFor("callInvitationReceived", (e) => e.callID === callID);

  await phone.client.callAccept(callID, {});
  const accepted = (e: { callUserList: { userID: string; state: number }[] }) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted);
  await laptop.waitFor("callUserStateChanged", accepted);
  await phone.waitFor("callUserStateChanged", accepted);
  await caller.waitFor("callUserStateChanged", accepted);

  // The laptop may no longer act for bob in this call.
  await expect(laptop.client.callReject(callID, {})).rejects.toMatchObject({ code: 6000270 });
  // After its last word the laptop hears nothing more of this call, whatever happens next.
  const laptopEvents = laptop.log.filter((e) => (e.data as { callID?: string }).callID === callID);
  expect(
    laptopEvents
      .filter((e) => e.name === "callUserStateChanged")
      .filter((e) => accepted(e.data as never)),
  ).toHaveLength(1);
  expect(laptop.stateOf(callID, "bob")).toBe(CallUserState.Accepted);
});

it("a reject from one device stops the other devices too", async () => {
  const server = await world.server();
  const caller = await world.device(server, "caller");
  const phone = await world.device(server, "bob", { deviceID: "phone" });
  const laptop = await world.device(server, "bob", { deviceID: "laptop" });
  const { callID } = await caller.client.callInvite(["bob"], { timeout: 30 });
  await laptop.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await phone.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await phone.client.callReject(callID, { extendedData: "no" });
  const rejected = await laptop.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Rejected),
  );
  expect(rejected.callUserList).toEqual([
    { userID: "bob", state: CallUserState.Rejected, extendedData: "no" },
  ]);
  await caller.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Rejected),
  );
  // SPEC §4: the rejecting device is told its own terminal state too (as ZIM's SDK does), once.
  const ownRejection = (e: { callUserList: { userID: string; state: CallUserState }[] }) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Rejected);
  await phone.waitFor("callUserStateChanged", (e) => e.callID === callID && ownRejection(e));
  expect(phone.events("callUserStateChanged", callID).filter(ownRejection)).toHaveLength(1);
});

it("the caller's other devices see the call created and cancelled", async () => {
  const server = await world.server();
  const desk = await world.device(server, "alice", { deviceID: "desk" });
  const pocket = await world.device(server, "alice", { deviceID: "pocket" });
  const bob = await world.device(server, "bob");
  const { callID } = await desk.client.callInvite(["bob"], { timeout: 30 });
  await pocket.waitFor("callInvitationCreated", (e) => e.callID === callID);
  await desk.waitFor("callInvitationCreated", (e) => e.callID === callID);
  await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await desk.client.callCancel([], callID, {});
  await pocket.waitFor("callInvitationCancelled", (e) => e.callID === callID);
  await bob.waitFor("callInvitationCancelled", (e) => e.callID === callID);
  expect(desk.events("callInvitationCancelled", callID)).toHaveLength(0);
});

it("an eleventh device logs the oldest out with KickedOut", async () => {
  const server = await world.server({ maxDevicesPerUser: 2 });
  const first = await world.device(server, "carol", { deviceID: "one" });
  await world.device(server, "carol", { deviceID: "two" });
  await world.device(server, "carol", { deviceID: "three" });
  const kicked = await first.waitFor("connectionStateChanged", (e) => e.state === 0);
  expect(kicked.event).toBe(4);
});

it("three devices of an invitee and two of the caller: each gets exactly its share", async () => {
  const server = await world.server();
  const [deskA, pocketA] = await Promise.all(
    ["desk", "pocket"].map((d) => world.device(server, "alice", { deviceID: d })),
  );
  const bobs = await Promise.all(
    ["b1", "b2", "b3"].map((d) => world.device(server, "bob", { deviceID: d })),
  );
  const carol = await world.device(server, "carol");
  const [b1, b2, b3] = bobs as [Device, Device, Device];
  const { callID } = await deskA!.client.callInvite(["bob", "carol"], {
    mode: CallInvitationMode.Advanced,
    timeout: 60,
  });
  // Every device of bob rings; both of alice's devices see the call created.
  for (const b of bobs) await b.waitFor("callInvitationReceived", (e) => e.callID === callID);
  for (const a of [deskA!, pocketA!])
    await a.waitFor("callInvitationCreated", (e) => e.callID === callID);
  await carol.waitFor("callInvitationReceived", (e) => e.callID === callID);

  await b2.client.callAccept(callID, {});
  const bobAccepted = (e: { callUserList: { userID: string; state: number }[] }) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted);
  for (const b of bobs) await b.waitFor("callUserStateChanged", bobAccepted);
  await carol.client.callReject(callID, { extendedData: "later" });
  const carolRejected = (e: { callUserList: { userID: string; state: number }[] }) =>
    e.callUserList.some((u) => u.userID === "carol" && u.state === CallUserState.Rejected);
  await b2.waitFor("callUserStateChanged", carolRejected);
  await deskA!.waitFor("callUserStateChanged", carolRejected);
  await deskA!.client.callEnd(callID, {});
  await b2.waitFor("callInvitationEnded", (e) => e.callID === callID);
  await deskA!.waitFor("callInvitationEnded", (e) => e.callID === callID);

  const names = (d: Device) =>
    d.log.filter((e) => (e.data as { callID?: string }).callID === callID).map((e) => e.name);
  // The answering device follows the call to its end.
  expect(names(b2)).toEqual([
    "callInvitationReceived",
    ...names(b2)
      .slice(1, -2)
      .map(() => "callUserStateChanged"),
    "callUserStateChanged",
    "callInvitationEnded",
  ]);
  // The other two rang, heard bob answer once, and nothing after.
  for (const other of [b1, b3]) {
    const events = names(other);
    expect(events.at(-1)).toBe("callUserStateChanged");
    expect(other.events("callUserStateChanged", callID).filter(bobAccepted)).toHaveLength(1);
    expect(other.events("callUserStateChanged", callID).some(carolRejected)).toBe(false);
    expect(other.events("callInvitationEnded", callID)).toEqual([]);
  }
  // Alice's second device saw the call created and nothing of its course.
  expect(names(pocketA!)).toEqual(["callInvitationCreated"]);
  expect(names(deskA!)).toContain("callInvitationEnded");
});
