// Tokens far in the future: Node turns a timer of more than 2^31-1 ms into 1 ms, which once
// logged out every device whose token was valid for more than ~24.8 days right after login.
import { ConnectionState } from "@beckon/protocol";
import { afterEach, expect, it, vi } from "vitest";
import { LongTimeout } from "../src/long-timeout.js";
import { useWorld } from "./support/world.js";

const world = useWorld();
const DAY = 86_400;

afterEach(() => {
  vi.useRealTimers();
});

for (const [name, ttlSeconds] of [
  ["30-day", 30 * DAY],
  ["10-year", 3650 * DAY],
] as const) {
  it(`a ${name} token keeps its device logged in and ringable`, async () => {
    // The node must allow tokens this long (the default cap is 30 days).
    const server = await world.server({ maxTokenLifetimeSeconds: 3650 * DAY });
    const bob = await world.device(server, "bob", { ttlSeconds });
    const alice = await world.device(server, "alice");
    const states: number[] = [];
    bob.client.on("connectionStateChanged", (_client, { state }) => states.push(state));
    const expiring: number[] = [];
    bob.client.on("tokenWillExpire", (_client, { second }) => expiring.push(second));
    // Each invitation crosses the server's timer phase several times (store, bus, receipt).
    for (let round = 0; round < 3; round++) {
      const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
      await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);
      await alice.client.callCancel(["bob"], callID, {});
    }
    await bob.client.queryCallInvitationList({ count: 1 });
    expect(states).toEqual([]);
    expect(expiring).toEqual([]);
    expect(bob.client.connectionState).toBe(ConnectionState.Connected);
  });
}

it("a token that expires past the longest lifetime is refused", async () => {
  const server = await world.server();
  const client = world.client(server.url);
  await expect(
    client.login("zed", { token: await world.token("zed", 8000 * 366 * DAY) }),
  ).rejects.toMatchObject({ code: 6000103 });
});

it("a long timeout waits the whole way, in hops Node can keep", () => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  const fired: number[] = [];
  const start = Date.now();
  const timer = new LongTimeout(start + 3650 * DAY * 1000, () => fired.push(Date.now()));
  vi.advanceTimersByTime(1_000);
  expect(fired).toEqual([]);
  vi.advanceTimersByTime(3650 * DAY * 1000);
  expect(fired).toHaveLength(1);
  const cancelled = new LongTimeout(Date.now() + 30 * DAY * 1000, () => fired.push(0));
  cancelled.cancel();
  timer.cancel();
  vi.advanceTimersByTime(31 * DAY * 1000);
  expect(fired).toHaveLength(1);
});
