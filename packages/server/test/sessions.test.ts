// Sessions under stress: logins of one device racing each other, and a device that holds on
// through a flood of invitations without the server's memory growing with it.
import { PROTOCOL_VERSION } from "@beckon/protocol";
import { MemoryStreamBroker } from "@beckon/server";
import { expect, it } from "vitest";
import { openRawSocket, type RawSocket } from "./support/raw-socket.js";
import { useWorld } from "./support/world.js";

const world = useWorld();

async function loginFrame(userID: string, deviceID: string) {
  return JSON.stringify({
    id: 1,
    op: "login",
    data: { protocolVersion: PROTOCOL_VERSION, userID, token: await world.token(userID), deviceID },
  });
}

it("logins of one device racing on two sockets leave exactly one live session that gets events", async () => {
  const server = await world.server();
  const caller = await world.device(server, "caller");
  for (let round = 0; round < 10; round++) {
    const sockets = await Promise.all([openRawSocket(server.url), openRawSocket(server.url)]);
    const frame = await loginFrame("bob", "same-device");
    const replies = await Promise.all(sockets.map((s) => s.request(frame)));
    expect(replies.every((r) => r.ok === true)).toBe(true);
    // The later login wins; the earlier socket is closed, never left as a zombie.
    const closedOne = await Promise.race(sockets.map((s, i) => s.closed.then(() => i)));
    const live = sockets[1 - closedOne] as RawSocket;
    const { callID } = await caller.client.callInvite(["bob"], { timeout: 60 });
    for (;;) {
      const next = await live.next();
      if (next.ev === "callInvitationReceived") {
        expect((next.data as { callID: string }).callID).toBe(callID);
        break;
      }
    }
    await caller.client.callCancel([], callID, {});
    await Promise.all(sockets.map((s) => s.close()));
  }
});

it("a device flooded with 5 000 invitations keeps what the server holds for it bounded", async () => {
  const maxBytes = 64 * 1024;
  const broker = new MemoryStreamBroker({ maxAgeMs: 120_000, maxBytes });
  const server = await world.server({
    rateLimit: { burst: 100_000, perSecond: 100_000 },
    services: { broker },
  });
  // The device never acknowledges (no heartbeat in this test's time), so only the bounds hold.
  const target = await world.device(server, "target");
  const callers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => world.device(server, `flooder${i}`)),
  );
  let received = 0;
  let allShown: () => void = () => {};
  const everyInvitation = new Promise<void>((resolve) => {
    allShown = resolve;
  });
  target.client.on("callInvitationReceived", () => {
    received += 1;
    if (received === 5_000) allShown();
  });
  const samples: Array<{ bytes: number; entries: number; onceKeys: number }> = [];
  const stream = `target\u0000${target.client.deviceID}`;
  for (let round = 0; round < 100; round++) {
    // Each caller rings once and cancels, so nobody stays busy; 5 000 invitations in all.
    const calls = await Promise.all(
      callers.map((c) => c.client.callInvite(["target"], { timeout: 600 })),
    );
    await Promise.all(calls.map(({ callID }, i) => callers[i]?.client.callCancel([], callID, {})));
    if (round % 10 === 9) samples.push(broker.held(stream));
  }
  // The last invitations may still be on their way to the device when the last cancel returns.
  await everyInvitation;
  expect(received).toBe(5_000);
  for (const sample of samples) {
    expect(sample.bytes).toBeLessThanOrEqual(maxBytes);
    // Invitations shown are remembered until their deadline, and 4 096 at most.
    expect(sample.onceKeys).toBeLessThanOrEqual(4_096);
    expect(sample.entries).toBeLessThan(5_000);
  }
  expect(samples.at(-1)?.entries).toBeGreaterThan(0);
}, 120_000);
