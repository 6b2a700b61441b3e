// Accept, reject, cancel and the deadline hit many calls at the same instant over real sockets;
// every call must still end in exactly one consistent outcome that every member sees alike.
import { CallState, CallUserState, isPending } from "@beckon/protocol";
import { expect, it } from "vitest";
import { type Device, useWorld } from "./support/world.js";

const world = useWorld();
const CALLS = 25;

type Outcome = { ok: true } | { ok: false; code: number };

function settle(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    () => ({ ok: true }),
    (error: { code: number }) => ({ ok: false, code: error.code }),
  );
}

/** Waits until `at` (epoch ms) with a timer: the race's start signal, not a synchronisation. */
function at(when: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, when - Date.now())));
}

it(`${CALLS} calls race accept, reject, cancel and timeout to one consistent end`, async () => {
  const server = await world.server();
  const groups: Array<{ caller: Device; a: Device; b: Device; c: Device }> = [];
  for (let i = 0; i < CALLS; i++) {
    const [caller, a, b, c] = await Promise.all(
      ["caller", "a", "b", "c"].map((role) => world.device(server, `${role}${i}`)),
    );
    groups.push({ caller, a, b, c } as never);
  }

  const runs = await Promise.all(
    groups.map(async ({ caller, a, b, c }, i) => {
      const { callID } = await caller.client.callInvite([a.userID, b.userID, c.userID], {
        timeout: 2,
      });
      const { deadline } = await a.waitFor("callInvitationReceived", (e) => e.callID === callID);
      await b.waitFor("callInvitationReceived", (e) => e.callID === callID);
      await c.waitFor("callInvitationReceived", (e) => e.callID === callID);
      // Spread the three operations over the 30 ms around the deadline (a request takes a few ms
      // to arrive), so every ordering of them and the deadline timer happens in the batch.
      const jitter = (k: number) => deadline + ((i * 7 + k * 11) % 33) - 30;
      const [accept, reject, cancel] = await Promise.all([
        at(jitter(0)).then(() => settle(a.client.callAccept(callID, { extendedData: "a" }))),
        at(jitter(1)).then(() => settle(b.client.callReject(callID, { extendedData: "b" }))),
        at(jitter(2)).then(() => settle(caller.client.callCancel([], callID, {}))),
      ]);
      return { callID, caller, a, b, c, accept, reject, cancel };
    }),
  );

  const tally = new Map<string, number>();
  for (const run of runs) {
    const { callID, caller, a, b, c, accept, reject, cancel } = run;
    const members = [caller, a, b, c];
    // The caller hears of every member's end; then each device's own query is answered after
    // any event already sent to it, so its log is complete when the reply arrives.
    await caller.waitFor("callUserStateChanged", () =>
      [a, b, c].every(
        (d) => !isPending(caller.stateOf(callID, d.userID) ?? CallUserState.Inviting),
      ),
    );
    const views = await Promise.all(
      members.map(async (device) => {
        const { callList } = await device.client.queryCallInvitationList({ count: 5, nextFlag: 0 });
        const call = callList.find((entry) => entry.callID === callID);
        expect(call?.state).toBe(CallState.Ended);
        return call;
      }),
    );
    // Every member reads the same final call.
    for (const view of views) expect(view).toEqual({ ...views[0], inviter: view?.inviter });
    const final = Object.fromEntries(
      (views[0]?.callUserList ?? []).map((u) => [u.userID, u.state]),
    ) as Record<string, CallUserState>;

    // Exactly one outcome per invitee, consistent with the replies each actor got.
    for (const invitee of [a, b, c])
      expect(isPending(final[invitee.userID] as CallUserState)).toBe(false);
    expect(accept.ok).toBe(final[a.userID] === CallUserState.Accepted);
    expect(reject.ok).toBe(final[b.userID] === CallUserState.Rejected);
    if (cancel.ok) {
      expect(accept.ok).toBe(false);
      expect(final[c.userID]).toBe(CallUserState.Cancelled);
    } else {
      expect([6000271]).toContain(cancel.code);
      expect(final[c.userID]).toBe(CallUserState.Timeout);
    }
    // Each invitee heard of its own end exactly once, by the matching event.
    for (const invitee of [a, b, c]) {
      const state = final[invitee.userID];
      expect(invitee.events("callInvitationCancelled", callID)).toHaveLength(
        state === CallUserState.Cancelled ? 1 : 0,
      );
      expect(invitee.events("callInvitationTimeout", callID)).toHaveLength(
        state === CallUserState.Timeout ? 1 : 0,
      );
    }
    // The caller's picture, rebuilt from its events alone, matches the store.
    for (const [userID, state] of Object.entries(final)) {
      expect(caller.stateOf(callID, userID), `${callID} ${userID}`).toBe(state);
    }
    if (final[a.userID] === CallUserState.Accepted) {
      for (const [userID, state] of Object.entries(final))
        expect(a.stateOf(callID, userID)).toBe(state);
    }
    const key = `accept:${accept.ok} reject:${reject.ok} cancel:${cancel.ok}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  // The batch must really have raced: more than one kind of outcome happened.
  console.log("race outcomes:", JSON.stringify([...tally]));
  expect(tally.size, JSON.stringify([...tally])).toBeGreaterThan(1);
});
