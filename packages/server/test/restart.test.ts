// A restart loses nothing: ringing invitations survive on disk, still time out exactly once,
// and can still be answered once the devices are back.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallUserState, ConnectionState } from "@beckon/protocol";
import { afterEach, expect, it } from "vitest";
import { type Device, useWorld } from "./support/world.js";

// Registered before the world's hooks, so it runs after them: a data dir goes once its server
// has stopped (after-hooks run last registered, first run).
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const world = useWorld();

/** Resolves when the device is Connected again after log position `since`. */
function reconnected(device: Device, since: number) {
  return device.waitFor(
    "connectionStateChanged",
    (e) =>
      e.state === ConnectionState.Connected && device.log.findIndex((x) => x.data === e) >= since,
  );
}

it("ringing calls survive a restart: they time out exactly once and can still be accepted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-restart-"));
  dirs.push(dir);
  const store = join(dir, "beckon.db");
  const first = await world.server({ store });
  const port = first.port;
  const devices = {
    alice: await world.device(first, "alice"),
    bob: await world.device(first, "bob"),
    dave: await world.device(first, "dave"),
    carol: await world.device(first, "carol"),
  };
  const { alice, bob, dave, carol } = devices;
  const toTimeOut = await alice.client.callInvite(["bob"], { timeout: 3 });
  const toAccept = await dave.client.callInvite(["carol"], { timeout: 60 });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === toTimeOut.callID);
  await carol.waitFor("callInvitationReceived", (e) => e.callID === toAccept.callID);

  const marks = Object.fromEntries(Object.entries(devices).map(([k, d]) => [k, d.log.length]));
  await first.close();
  const second = await world.server({ store, port });
  for (const [name, device] of Object.entries(devices)) await reconnected(device, marks[name] ?? 0);

  await expect(carol.client.callAccept(toAccept.callID, {})).resolves.toEqual({
    callID: toAccept.callID,
  });
  await dave.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "carol" && u.state === CallUserState.Accepted),
  );
  await bob.waitFor("callInvitationTimeout", (e) => e.callID === toTimeOut.callID);
  await alice.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Timeout),
  );

  // A third start on the same database must not fire that deadline again: once a later probe
  // deadline has fired there, every earlier one would have too.
  const marks2 = Object.fromEntries(Object.entries(devices).map(([k, d]) => [k, d.log.length]));
  await second.close();
  const third = await world.server({ store, port });
  for (const [name, device] of Object.entries(devices))
    await reconnected(device, marks2[name] ?? 0);
  const probe = await world.device(third, "probe");
  const { callID: probeCall } = await probe.client.callInvite(["bob"], { timeout: 1 });
  await bob.waitFor("callInvitationTimeout", (e) => e.callID === probeCall);
  expect(bob.events("callInvitationTimeout", toTimeOut.callID)).toHaveLength(1);
  const { callList } = await alice.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
  expect(callList.find((c) => c.callID === toTimeOut.callID)?.callUserList).toEqual([
    { userID: "alice", state: CallUserState.Accepted, extendedData: "" },
    { userID: "bob", state: CallUserState.Timeout, extendedData: "" },
  ]);
});

it("a deadline that passed while the server was down fires on start", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-restart-"));
  dirs.push(dir);
  const store = join(dir, "beckon.db");
  const first = await world.server({ store });
  const alice = await world.device(first, "alice");
  const bob = await world.device(first, "bob");
  const { callID, timeout } = await alice.client.callInvite(["bob"], { timeout: 1 });
  const { deadline } = await bob.waitFor("callInvitationReceived");
  expect(timeout).toBe(1);
  await first.close();
  await alice.client.destroy();
  await bob.client.destroy();
  // Start again only after the deadline has passed (a start signal, not a synchronisation).
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline + 50 - Date.now())));
  const second = await world.server({ store });
  const watcher = await world.device(second, "alice");
  const { callList } = await watcher.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
  // The overdue timer fires as the server starts; if the query beat it, wait for its event.
  if (callList[0]?.callUserList[1]?.state !== CallUserState.Timeout) {
    await watcher.waitFor("callUserStateChanged", (e) =>
      e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Timeout),
    );
  }
  const after = await watcher.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
  expect(after.callList[0]).toMatchObject({ callID, state: 2 });
  expect(after.callList[0]?.callUserList[1]?.state).toBe(CallUserState.Timeout);
});
