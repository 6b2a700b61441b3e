// A device whose socket is cut at random points of a busy call still sees every event exactly
// once and in order (resume), or, if it had to resync, ends with the server's state.
import { CallInvitationMode, CallUserState, ConnectionState } from "@beckon/protocol";
import { expect, it } from "vitest";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { Device, useWorld } from "./support/world.js";

const world = useWorld();
const CUTS = 200;

/** A small deterministic PRNG, so a failing run can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function callEvents(device: Device, callID: string): string[] {
  return device.log
    .filter((entry) => (entry.data as { callID?: string }).callID === callID)
    .map((entry) => `${entry.name} ${JSON.stringify(entry.data)}`);
}

it(`a device cut off ${CUTS} times during a busy call misses nothing and repeats nothing`, async () => {
  const seed = Date.now();
  const rand = random(seed);
  const server = await world.server({ heartbeatIntervalMs: 60_000 });
  const proxy = await startTcpProxy(server.port);
  try {
    const host = await world.device(server, "host");
    const players = await Promise.all(["p1", "p2", "p3"].map((u) => world.device(server, u)));
    const steady = await world.device(server, "watcher", { deviceID: "steady" });
    const flaky = new Device("watcher", world.client(proxy.url, "flaky"));
    await flaky.client.login("watcher", { token: await world.token("watcher") });

    // The watcher never answers: with no main device, both its devices get every event.
    const { callID } = await host.client.callInvite(["watcher"], {
      mode: CallInvitationMode.Advanced,
      timeout: 600,
    });
    await steady.waitFor("callInvitationReceived", (e) => e.callID === callID);
    await flaky.waitFor("callInvitationReceived", (e) => e.callID === callID);

    // Each step changes one player's state, so every step sends the watcher one event.
    const steps: Array<(p: Device) => Promise<unknown>> = [
      (p) => host.client.callingInvite([p.userID], callID, {}),
      (p) => p.client.callAccept(callID, {}),
      (p) => p.client.callQuit(callID, {}),
    ];
    let cuts = 0;
    for (let round = 0; cuts < CUTS; round++) {
      for (const step of steps) {
        const player = players[round % players.length] as Device;
        const connectedBefore = flaky.log.length;
        const done = step(player);
        // Cut at a random point: before the step's event reaches the watcher, or after.
        for (let turns = Math.floor(rand() * 4); turns > 0; turns--) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        proxy.cut();
        cuts++;
        await done;
        await flaky.waitFor(
          "connectionStateChanged",
          (e) =>
            e.state === ConnectionState.Connected &&
            flaky.log.findIndex((entry) => entry.data === e) >= connectedBefore,
        );
      }
    }
    // A last change both devices must see; then both logs are complete.
    await host.client.callingInvite(["p1", "p2", "p3"], callID, {});
    const last = (d: Device) =>
      d.waitFor(
        "callUserStateChanged",
        (e) =>
          e.callUserList.length === 3 &&
          e.callUserList.every((u) => u.state === CallUserState.Inviting),
      );
    await last(steady);
    await last(flaky);

    const resyncs = flaky
      .events("connectionStateChanged")
      .filter((e) => e.extendedData.includes('"resumed":false'));
    const resumes = flaky
      .events("connectionStateChanged")
      .filter((e) => e.extendedData.includes('"resumed":true'));
    expect(resumes.length + resyncs.length, `seed ${seed}`).toBeGreaterThanOrEqual(CUTS);
    if (resyncs.length === 0) {
      expect(callEvents(flaky, callID), `seed ${seed}`).toEqual(callEvents(steady, callID));
    } else {
      // After a resync the device's picture, not its history, must match the server.
      const { callList } = await flaky.client.queryCallInvitationList({ count: 1, nextFlag: 0 });
      for (const user of callList[0]?.callUserList ?? []) {
        expect(flaky.stateOf(callID, user.userID), `seed ${seed} ${user.userID}`).toBe(user.state);
      }
    }
    expect(callEvents(steady, callID).length).toBeGreaterThan(CUTS);
  } finally {
    await proxy.close();
  }
}, 120_000);
