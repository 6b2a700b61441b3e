// A device that cannot resume gets the current picture (SPEC's resync): calls it already shows
// are restated there, and the SDK must not show them to the app a second time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallUserState, ConnectionState } from "@beckon/protocol";
import { afterEach, expect, it } from "vitest";
import { type Device, useWorld } from "./support/world.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const world = useWorld();

function resynced(device: Device, since: number) {
  return device.waitFor(
    "connectionStateChanged",
    (e) =>
      e.state === ConnectionState.Connected &&
      e.extendedData === JSON.stringify({ resumed: false }) &&
      device.log.findIndex((x) => x.data === e) >= since,
  );
}

it("after a resync, an invitation the device shows and its caller's call are not shown again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-resync-"));
  dirs.push(dir);
  const store = join(dir, "beckon.db");
  const first = await world.server({ store });
  const alice = await world.device(first, "alice");
  const bob = await world.device(first, "bob");
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  // The caller has heard of bob's receipt: the picture restates exactly that.
  await alice.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Received),
  );

  // A restart loses every stream (memory broker): both devices resync from the database.
  const marks = { alice: alice.log.length, bob: bob.log.length };
  await first.close();
  await world.server({ store, port: first.port });
  await resynced(alice, marks.alice);
  await resynced(bob, marks.bob);

  // Something new after the picture: once it arrives, the picture has been handled.
  await bob.client.callAccept(callID, {});
  await alice.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted),
  );
  await bob.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted),
  );
  expect(bob.events("callInvitationReceived", callID)).toHaveLength(1);
  const received = alice
    .events("callUserStateChanged", callID)
    .filter((e) =>
      e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Received),
    );
  expect(received).toHaveLength(1);
});
