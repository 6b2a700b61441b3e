// Members who vanish (SPEC §5): an advanced call whose members all close their apps ends by
// itself after the grace period, and nobody is left busy; a device that resumes keeps its place.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VANISHED_EXTENDED_DATA } from "@beckon/engine";
import { CallInvitationMode, CallUserState, ConnectionState } from "@beckon/protocol";
import { afterEach, expect, it } from "vitest";
import { FactLog } from "./support/fact-log.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { Device, useWorld } from "./support/world.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
// After the hook above, so it runs before it: servers stop before their data dirs go.
const world = useWorld();

const quitBy =
  (userID: string) =>
  (e: { callUserList: Array<{ userID: string; state: number; extendedData: string }> }) =>
    e.callUserList.some(
      (u) =>
        u.userID === userID &&
        u.state === CallUserState.Quit &&
        u.extendedData === VANISHED_EXTENDED_DATA,
    );

it("a member whose every device is gone is quit after the grace period; the others are told", async () => {
  const server = await world.server({ memberGraceMs: 300 });
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const carol = await world.device(server, "carol");
  const { callID } = await alice.client.callInvite(["bob", "carol"], {
    mode: CallInvitationMode.Advanced,
    timeout: 60,
  });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await bob.client.callAccept(callID, {});
  await carol.client.callAccept(callID, {});
  await bob.client.destroy();
  await alice.waitFor("callUserStateChanged", (e) => e.callID === callID && quitBy("bob")(e));
  await carol.waitFor("callUserStateChanged", (e) => e.callID === callID && quitBy("bob")(e));
  const { callList } = await alice.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
  expect(callList[0]?.callUserList.find((u) => u.userID === "bob")?.state).toBe(CallUserState.Quit);
});

it("when every member has closed the app, the call ends and they can call again", async () => {
  const facts = new FactLog();
  const server = await world.server({ memberGraceMs: 200, services: { hooks: [facts.hook] } });
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const { callID } = await alice.client.callInvite(["bob"], {
    mode: CallInvitationMode.Advanced,
    timeout: 60,
  });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await bob.client.callAccept(callID, {});
  await alice.waitFor("callUserStateChanged", (e) => e.callID === callID);
  await Promise.all([alice.client.destroy(), bob.client.destroy()]);
  await facts.waitFor((f) => f.callID === callID && f.kind === "call.ended");
  const quits = facts.facts.filter((f) => f.callID === callID && f.kind === "member.quit");
  expect(quits.map((f) => (f.kind === "member.quit" ? f.userID : "")).sort()).toEqual([
    "alice",
    "bob",
  ]);
  // Back later: neither is busy.
  const again = await world.device(server, "alice", { deviceID: "alice-again" });
  const next = await again.client.callInvite(["bob"], { timeout: 60 });
  expect(next.callID).not.toBe(callID);
});

it("a device that drops and resumes within the grace period keeps its place", async () => {
  const facts = new FactLog();
  const server = await world.server({
    memberGraceMs: 300,
    heartbeatIntervalMs: 60_000,
    services: { hooks: [facts.hook] },
  });
  const proxy = await startTcpProxy(server.port);
  try {
    const alice = await world.device(server, "alice");
    const bob = new Device("bob", world.client(proxy.url));
    await bob.client.login("bob", { token: await world.token("bob") });
    const { callID } = await alice.client.callInvite(["bob"], {
      mode: CallInvitationMode.Advanced,
      timeout: 60,
    });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    await bob.client.callAccept(callID, {});
    const since = bob.log.length;
    proxy.cut();
    await bob.waitFor(
      "connectionStateChanged",
      (e) =>
        e.state === ConnectionState.Connected && bob.log.findIndex((x) => x.data === e) >= since,
    );
    // A ring that times out after 1 s is the clock: by then the grace period is long over.
    const carol = await world.device(server, "carol");
    await world.device(server, "dave");
    const timing = await carol.client.callInvite(["dave"], { timeout: 1 });
    await facts.waitFor((f) => f.callID === timing.callID && f.kind === "member.timedOut");
    expect(facts.facts.some((f) => f.callID === callID && f.kind === "member.quit")).toBe(false);
    const { callList } = await alice.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
    const call = callList.find((c) => c.callID === callID);
    expect(call?.callUserList.find((u) => u.userID === "bob")?.state).toBe(CallUserState.Accepted);
  } finally {
    await proxy.close();
  }
});

it("the grace period is a stored deadline: it survives a restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-vanish-"));
  dirs.push(dir);
  const store = join(dir, "beckon.db");
  const first = await world.server({ store, memberGraceMs: 400 });
  const alice = await world.device(first, "alice");
  const bob = await world.device(first, "bob");
  const { callID } = await alice.client.callInvite(["bob"], {
    mode: CallInvitationMode.Advanced,
    timeout: 60,
  });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await bob.client.callAccept(callID, {});
  await alice.waitFor("callUserStateChanged", (e) => e.callID === callID);
  await first.close();

  // Nobody comes back: the restarted node quits both and the call ends by itself.
  const facts = new FactLog();
  const second = await world.server({
    store,
    memberGraceMs: 400,
    services: { hooks: [facts.hook] },
  });
  await facts.waitFor((f) => f.callID === callID && f.kind === "call.ended");
  const carol = await world.device(second, "carol");
  const rang = await carol.client.callInvite(["alice"], { timeout: 60 });
  expect(rang.errorUserList).toEqual([]);
  const alice2 = await world.device(second, "alice", { deviceID: "later" });
  const { callList } = await alice2.client.queryCallInvitationList({ count: 2, nextFlag: 0 });
  const old = callList.find((c) => c.callID === callID);
  expect(old?.state).toBe(2);
  expect(old?.callUserList.every((u) => u.state === CallUserState.Quit)).toBe(true);
});
