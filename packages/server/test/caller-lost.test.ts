// SPEC §5 "Caller lost": an unanswered call is cancelled when the caller logs out, or when the
// caller's device loses its connection and does not come back within the grace period.
import { CallUserState, ConnectionState } from "@beckon/protocol";
import { expect, it } from "vitest";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { Device, useWorld } from "./support/world.js";

const world = useWorld();

async function callerBehindProxy(options: { heartbeatIntervalMs?: number } = {}) {
  const server = await world.server({ callerGraceMs: 300, ...options });
  const proxy = await startTcpProxy(server.port);
  const caller = new Device("caller", world.client(proxy.url));
  await caller.client.login("caller", { token: await world.token("caller") });
  const bob = await world.device(server, "bob");
  return { server, proxy, caller, bob };
}

/**
 * Server timers fire in deadline order, so once a 1 s invitation has timed out, a 300 ms
 * caller-lost timer armed before it would have fired already.
 */
async function passTheGracePeriod(server: { url: string }, invitee: Device): Promise<void> {
  const probe = await world.device(server, "probe");
  const { callID } = await probe.client.callInvite([invitee.userID], { timeout: 1 });
  await invitee.waitFor("callInvitationTimeout", (e) => e.callID === callID);
}

async function waitForLogAfter(device: Device, index: number, state: ConnectionState) {
  await device.waitFor("connectionStateChanged", (e) => {
    const at = device.log.findIndex((entry) => entry.data === e);
    return e.state === state && at >= index;
  });
}

it("a caller whose connection drops for good cancels the unanswered call", async () => {
  const { proxy, caller, bob } = await callerBehindProxy();
  try {
    const { callID } = await caller.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    proxy.down();
    const cancelled = await bob.waitFor("callInvitationCancelled", (e) => e.callID === callID);
    expect(cancelled.inviter).toBe("caller");
  } finally {
    await proxy.close();
  }
});

it("a caller that comes back within the grace period keeps the call", async () => {
  const { server, proxy, caller, bob } = await callerBehindProxy();
  try {
    const { callID } = await caller.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    const before = caller.log.length;
    // The SDK reconnects through the proxy at once; the server sees the same device return.
    proxy.cut();
    await caller.waitFor("connectionStateChanged", (e) => e.state === ConnectionState.Reconnecting);
    await waitForLogAfter(caller, before, ConnectionState.Connected);
    await passTheGracePeriod(server, bob);
    await expect(bob.client.callAccept(callID, {})).resolves.toEqual({ callID });
    expect(bob.events("callInvitationCancelled", callID)).toHaveLength(0);
  } finally {
    await proxy.close();
  }
});

it("a half-open caller socket is noticed by the heartbeat and the call is cancelled", async () => {
  const { proxy, caller, bob } = await callerBehindProxy({ heartbeatIntervalMs: 200 });
  try {
    const { callID } = await caller.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    proxy.blackhole();
    await bob.waitFor("callInvitationCancelled", (e) => e.callID === callID);
  } finally {
    await proxy.close();
  }
});

it("a caller logging out cancels the unanswered call at once", async () => {
  const server = await world.server();
  const caller = await world.device(server, "caller");
  const bob = await world.device(server, "bob");
  const { callID } = await caller.client.callInvite(["bob"], { timeout: 60 });
  await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
  await caller.client.logout();
  await bob.waitFor("callInvitationCancelled", (e) => e.callID === callID);
});

it("after an invitee accepted, losing the caller cancels nothing", async () => {
  const { server, proxy, caller, bob } = await callerBehindProxy();
  try {
    const { callID } = await caller.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    await bob.client.callAccept(callID, {});
    await caller.waitFor("callUserStateChanged", (e) =>
      e.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Accepted),
    );
    proxy.down();
    await passTheGracePeriod(server, bob);
    const { callList } = await bob.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
    const call = callList.find((c) => c.callID === callID);
    expect(call?.callUserList.find((u) => u.userID === "bob")?.state).toBe(CallUserState.Accepted);
    expect(bob.events("callInvitationCancelled", callID)).toHaveLength(0);
  } finally {
    await proxy.close();
  }
});
