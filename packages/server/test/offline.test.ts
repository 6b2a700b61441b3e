// Invitees who are offline, devices that come back too late to resume, and what they are shown.
import { CallInvitationMode, CallState, CallUserState, ConnectionState } from "@beckon/protocol";
import { expect, it } from "vitest";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { Device, useWorld } from "./support/world.js";

const world = useWorld();

async function knownButOffline(server: { url: string }, userID: string) {
  const once = await world.device(server, userID);
  await once.client.logout();
}

it("an invitee who logs in before the deadline is rung, with the deadline", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  await knownButOffline(server, "bob");
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
  const created = await alice.waitFor("callInvitationCreated");
  const bob = await world.device(server, "bob");
  const ring = await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  expect(ring.deadline).toBe(created.createTime + 30_000);
  expect(ring.caller).toBe("alice");
});

it("an invitee who logs in after the deadline is not rung, but sees the call in the list", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  await knownButOffline(server, "bob");
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 1 });
  await alice.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Timeout),
  );
  const bob = await world.device(server, "bob");
  const { callList } = await bob.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
  expect(callList.map((c) => [c.callID, c.state, c.inviter])).toEqual([
    [callID, CallState.Ended, "alice"],
  ]);
  expect(bob.events("callInvitationReceived")).toEqual([]);
});

it("a device back after the resume window gets the current picture and the end of what it missed", async () => {
  // A zero resume window: the session ends as soon as the socket does, so what follows is a
  // fresh login however quickly the device comes back.
  const server = await world.server({ resumeWindowMs: 0, callerGraceMs: 60_000 });
  const proxy = await startTcpProxy(server.port);
  try {
    const alice = await world.device(server, "alice");
    const carol = await world.device(server, "carol");
    const bob = new Device("bob", world.client(proxy.url, "bob-phone"));
    await bob.client.login("bob", { token: await world.token("bob") });
    // Bob is in a running advanced call, and is being rung for a second call.
    const running = await alice.client.callInvite(["bob"], {
      mode: CallInvitationMode.Advanced,
      timeout: 60,
    });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === running.callID);
    await bob.client.callAccept(running.callID, {});
    const ringing = await carol.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === ringing.callID);

    proxy.down();
    await bob.waitFor("connectionStateChanged", (e) => e.state === ConnectionState.Reconnecting);
    // While bob is away: the ringing call is cancelled, and the running call changes.
    await carol.client.callCancel([], ringing.callID, {});
    await alice.client.callingInvite(["carol"], running.callID, {});
    await carol.waitFor("callInvitationReceived", (e) => e.callID === running.callID);
    const before = bob.log.length;
    proxy.up();
    await bob.waitFor(
      "connectionStateChanged",
      (e) =>
        e.state === ConnectionState.Connected && bob.log.findIndex((x) => x.data === e) >= before,
    );
    const back = bob.log.slice(before).find((e) => e.name === "connectionStateChanged");
    expect(back?.data).toMatchObject({ extendedData: JSON.stringify({ resumed: false }) });
    // It stops ringing for the cancelled call...
    await bob.waitFor("callInvitationCancelled", (e) => e.callID === ringing.callID);
    // ...and learns every member's state in the running call, carol's new invitation included.
    const picture = await bob.waitFor(
      "callUserStateChanged",
      (e) => e.callID === running.callID && e.callUserList.some((u) => u.userID === "carol"),
    );
    expect(picture.callUserList.map((u) => [u.userID, u.state])).toEqual([
      ["alice", CallUserState.Accepted],
      ["bob", CallUserState.Accepted],
      ["carol", CallUserState.Received],
    ]);
  } finally {
    await proxy.close();
  }
});

it("a new device of a user with a main device in a call does not get that call's events", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const phone = await world.device(server, "bob", { deviceID: "phone" });
  const { callID } = await alice.client.callInvite(["bob"], {
    mode: CallInvitationMode.Advanced,
    timeout: 60,
  });
  await phone.waitFor("callInvitationReceived");
  await phone.client.callAccept(callID, {});
  const laptop = await world.device(server, "bob", { deviceID: "laptop" });
  // The laptop sees the call through the list, and is told nothing about it.
  const { callList } = await laptop.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
  expect(callList[0]?.callID).toBe(callID);
  await alice.client.callQuit(callID, {});
  await phone.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "alice" && u.state === CallUserState.Quit),
  );
  const again = await laptop.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
  expect(again.callList[0]?.callUserList[0]?.state).toBe(CallUserState.Quit);
  expect(laptop.log.filter((e) => (e.data as { callID?: string }).callID === callID)).toEqual([]);
});
