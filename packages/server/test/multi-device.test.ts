// One user on several devices: every device rings, the one that answers takes the call, and the
// others get one last state change so they stop ringing.
import { CallUserState } from "@beckon/protocol";
import { expect, it } from "vitest";
import { useWorld } from "./support/world.js";

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
  // The rejecting device got its answer as the reply; it is not told again.
  expect(
    phone
      .events("callUserStateChanged", callID)
      .filter((e) =>
        e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Rejected),
      ),
  ).toHaveLength(0);
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
