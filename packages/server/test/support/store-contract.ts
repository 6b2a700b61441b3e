// One contract every CallStore must keep, run against each backend (as socket.io runs one
// adapter suite against every adapter).
import { type Call, createCall, defaultEngineSettings, timersOf } from "@beckon/engine";
import { CallState } from "@beckon/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CallStore } from "../../src/store/call-store.js";

let counter = 0;

/** A real call as the engine builds it: `caller` invites `invitees` at `now`. */
export function makeCall(caller: string, invitees: string[], now = 1_000_000): Call {
  const decision = createCall(
    {
      type: "invite",
      actor: { userID: caller, deviceID: `${caller}-device` },
      callID: `call-${++counter}-${caller}`,
      invitees,
      timeout: 30,
      knownUsers: new Set(invitees),
      callerBusy: false,
    },
    now,
    defaultEngineSettings,
  );
  if (!decision.ok) throw decision.error;
  return decision.call;
}

function ended(call: Call, at: number): Call {
  return { ...call, state: CallState.Ended, endTime: at, version: call.version + 1 };
}

export function describeCallStore(name: string, open: () => Promise<CallStore>): void {
  describe(`CallStore contract: ${name}`, () => {
    let store: CallStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("stores a call with its timers and reads it back", async () => {
      const call = makeCall("alice", ["bob", "carol"]);
      await store.insertCall(call, timersOf(call, defaultEngineSettings));
      expect(await store.getCall(call.callID)).toEqual(call);
      expect(await store.getCall("missing")).toBeUndefined();
      const timers = await store.allTimers();
      expect(timers.map((t) => [t.callID, t.kind, t.userID, t.at]).sort()).toEqual(
        [
          [call.callID, "deadline", "bob", call.members[1]?.deadline],
          [call.callID, "deadline", "carol", call.members[2]?.deadline],
        ].sort(),
      );
    });

    it("updates only from the expected version, replacing the timers", async () => {
      const call = makeCall("alice", ["bob"]);
      await store.insertCall(call, timersOf(call, defaultEngineSettings));
      const next = ended(call, 2_000_000);
      expect(await store.updateCall(next, call.version + 5, [])).toBe(false);
      expect(await store.getCall(call.callID)).toEqual(call);
      expect(await store.updateCall(next, call.version, [])).toBe(true);
      expect(await store.getCall(call.callID)).toEqual(next);
      expect(await store.allTimers()).toEqual([]);
      // The same version cannot win twice.
      expect(await store.updateCall(next, call.version, [])).toBe(false);
    });

    it("finds a user's active calls, and forgets them once ended", async () => {
      const first = makeCall("alice", ["bob"]);
      const second = makeCall("carol", ["bob"]);
      await store.insertCall(first, []);
      await store.insertCall(second, []);
      expect((await store.activeCallsOf("bob")).map((c) => c.callID).sort()).toEqual(
        [first.callID, second.callID].sort(),
      );
      await store.updateCall(ended(first, 5), first.version, []);
      expect((await store.activeCallsOf("bob")).map((c) => c.callID)).toEqual([second.callID]);
      expect(await store.activeCallsOf("nobody")).toEqual([]);
      expect(await store.startedCallIDs()).toEqual([second.callID]);
    });

    it("pages a user's calls newest first, without skips or repeats while calls are added", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const call = makeCall(`caller${i}`, ["pager"]);
        await store.insertCall(call, []);
        ids.push(call.callID);
      }
      const seen: string[] = [];
      let before = 0;
      do {
        const page = await store.listCallsOf("pager", 7, before);
        seen.push(...page.calls.map((c) => c.callID));
        before = page.next;
        // New calls arriving between pages must not shift the pages already handed out.
        await store.insertCall(makeCall(`late${seen.length}`, ["pager"]), []);
      } while (before !== 0);
      expect(seen).toEqual([...ids].reverse());
    });

    it("purges ended calls older than the cut-off, and nothing else", async () => {
      const old = makeCall("alice", ["bob"]);
      const recent = makeCall("carol", ["bob"]);
      const running = makeCall("dave", ["bob"]);
      for (const call of [old, recent, running]) await store.insertCall(call, []);
      await store.updateCall(ended(old, 1_000), old.version, []);
      await store.updateCall(ended(recent, 9_000), recent.version, []);
      expect(await store.purgeEndedBefore(5_000)).toBe(1);
      expect(await store.getCall(old.callID)).toBeUndefined();
      expect(await store.getCall(recent.callID)).toBeDefined();
      expect(await store.getCall(running.callID)).toBeDefined();
      expect((await store.listCallsOf("bob", 10, 0)).calls).toHaveLength(2);
    });

    it("knows the users it was told of", async () => {
      await store.addUsers(["alice", "bob"]);
      await store.addUsers(["bob"]);
      expect(await store.knownUsers(["alice", "bob", "eve"])).toEqual(new Set(["alice", "bob"]));
    });
  });
}
