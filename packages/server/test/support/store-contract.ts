// One contract every CallStore must keep, run against each backend (as socket.io runs one
// adapter suite against every adapter).
import {
  applyCommand,
  type Call,
  createCall,
  defaultEngineSettings,
  type Fact,
  type Timer,
  timersOf,
} from "@beckon/engine";
import { CallInvitationMode, CallState } from "@beckon/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CallStore, type CommitResult, timerChange } from "../../src/store/call-store.js";

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

/** Commits a new call with the timers the engine derives for it. */
export function insert(store: CallStore, call: Call, facts: Fact[] = []): Promise<CommitResult> {
  const timers = timersOf(call, defaultEngineSettings);
  return store.commit({ call, before: null, timers: timerChange([], timers), facts });
}

/** Commits `after` over `before`, moving the timers from one to the other. */
export function update(
  store: CallStore,
  before: Call,
  after: Call,
  facts: Fact[] = [],
  timers: { before: Timer[]; after: Timer[] } = {
    before: timersOf(before, defaultEngineSettings),
    after: timersOf(after, defaultEngineSettings),
  },
): Promise<CommitResult> {
  return store.commit({
    call: after,
    before,
    timers: timerChange(timers.before, timers.after),
    facts,
  });
}

/** The call after `userID` accepts, as the engine decides it. */
function accepted(call: Call, userID: string, now = 1_000_100) {
  const decision = applyCommand(
    call,
    { type: "accept", actor: { userID, deviceID: `${userID}-device` } },
    now,
    defaultEngineSettings,
  );
  if (!decision.ok) throw decision.error;
  return decision;
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
      expect(await insert(store, call)).toEqual({ ok: true });
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
      await insert(store, call);
      const next = ended(call, 2_000_000);
      expect(await update(store, { ...call, version: call.version + 5 }, next)).toEqual({
        ok: false,
        conflict: "version",
      });
      expect(await store.getCall(call.callID)).toEqual(call);
      expect(await update(store, call, next)).toEqual({ ok: true });
      expect(await store.getCall(call.callID)).toEqual(next);
      expect(await store.allTimers()).toEqual([]);
      // The same version cannot win twice.
      expect(await update(store, call, next)).toEqual({ ok: false, conflict: "version" });
    });

    it("finds a user's active calls, and forgets them once ended", async () => {
      const first = makeCall("alice", ["bob"]);
      const second = makeCall("carol", ["bob"]);
      await insert(store, first);
      await insert(store, second);
      expect((await store.activeCallsOf("bob")).map((c) => c.callID).sort()).toEqual(
        [first.callID, second.callID].sort(),
      );
      await update(store, first, ended(first, 5));
      expect((await store.activeCallsOf("bob")).map((c) => c.callID)).toEqual([second.callID]);
      expect(await store.activeCallsOf("nobody")).toEqual([]);
      expect(await store.startedCallIDs()).toEqual([second.callID]);
    });

    it("counts started calls by mode, for the active-calls gauge", async () => {
      const general = makeCall("alice", ["bob"]);
      const advanced = { ...makeCall("carol", ["dave"]), mode: CallInvitationMode.Advanced };
      const endedOne = makeCall("erin", ["frank"]);
      for (const call of [general, advanced, endedOne]) await insert(store, call);
      await update(store, endedOne, ended(endedOne, 5));
      expect(await store.countStartedCalls()).toEqual({ general: 1, advanced: 1 });
      await update(store, general, ended(general, 6));
      expect(await store.countStartedCalls()).toEqual({ general: 0, advanced: 1 });
    });

    it("lists calls by state, newest first, and counts the ringing ones (operators)", async () => {
      const ringing = makeCall("alice", ["bob"]);
      const answered = { ...makeCall("carol", ["dave"]), mode: CallInvitationMode.Advanced };
      const over = makeCall("erin", ["frank"]);
      for (const call of [ringing, answered, over]) await insert(store, call);
      await update(store, answered, accepted(answered, "dave").call);
      await update(store, over, ended(over, 5));
      const ids = (calls: Call[]) => calls.map((call) => call.callID);
      expect(ids(await store.listCalls("ringing", 10))).toEqual([ringing.callID]);
      expect(ids(await store.listCalls("started", 10))).toEqual([answered.callID, ringing.callID]);
      expect(ids(await store.listCalls("recent", 10))).toEqual([
        over.callID,
        answered.callID,
        ringing.callID,
      ]);
      expect(ids(await store.listCalls("recent", 1))).toEqual([over.callID]);
      expect(await store.countRingingCalls()).toBe(1);
      await update(store, ringing, ended(ringing, 6));
      expect(await store.countRingingCalls()).toBe(0);
      expect(await store.listCalls("ringing", 10)).toEqual([]);
    });

    it("pages a user's calls newest first, without skips or repeats while calls are added", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        const call = makeCall(`caller${i}`, ["pager"]);
        await insert(store, call);
        ids.push(call.callID);
      }
      const seen: string[] = [];
      let before = 0;
      do {
        const page = await store.listCallsOf("pager", 7, before);
        seen.push(...page.calls.map((c) => c.callID));
        before = page.next;
        // New calls arriving between pages must not shift the pages already handed out.
        await insert(store, makeCall(`late${seen.length}`, ["pager"]));
      } while (before !== 0);
      expect(seen).toEqual([...ids].reverse());
    });

    it("purges ended calls older than the cut-off, and nothing else", async () => {
      const old = makeCall("alice", ["bob"]);
      const recent = makeCall("carol", ["bob"]);
      const running = makeCall("dave", ["bob"]);
      for (const call of [old, recent, running]) await insert(store, call);
      await update(store, old, ended(old, 1_000));
      await update(store, recent, ended(recent, 9_000));
      expect(await store.purgeEndedBefore(5_000)).toBe(1);
      expect(await store.getCall(old.callID)).toBeUndefined();
      expect(await store.getCall(recent.callID)).toBeDefined();
      expect(await store.getCall(running.callID)).toBeDefined();
      expect((await store.listCallsOf("bob", 10, 0)).calls).toHaveLength(2);
    });

    it("update decides on the stored call and commits what it decided, in one step", async () => {
      const call = makeCall("alice", ["bob"]);
      await insert(store, call);
      const decision = accepted(call, "bob");
      const done = await store.update(call.callID, (stored) => {
        expect(stored).toEqual(call);
        return {
          value: "decided",
          change: {
            call: decision.call,
            before: call,
            timers: timerChange(
              timersOf(call, defaultEngineSettings),
              timersOf(decision.call, defaultEngineSettings),
            ),
            facts: decision.facts,
          },
        };
      });
      expect(done).toEqual({ value: "decided", result: { ok: true } });
      expect(await store.getCall(call.callID)).toEqual(decision.call);
      // A decision that changes nothing writes nothing.
      expect(await store.update(call.callID, () => ({ value: 1 }))).toEqual({ value: 1 });
      expect(await store.getCall(call.callID)).toEqual(decision.call);
      // An unknown call is decided on as such.
      expect(await store.update("missing", (stored) => ({ value: stored }))).toEqual({
        value: undefined,
      });
    });

    it("update: what the decision throws is thrown, and nothing of it is written", async () => {
      const call = makeCall("alice", ["bob"]);
      await insert(store, call);
      const refusal = new Error("refused");
      await expect(
        store.update(call.callID, () => {
          throw refusal;
        }),
      ).rejects.toBe(refusal);
      expect(await store.getCall(call.callID)).toEqual(call);
      // The call is free again: the next command runs.
      const over = ended(call, 7);
      const done = await store.update(call.callID, (stored) => ({
        value: stored?.version,
        change: {
          call: over,
          before: call,
          timers: timerChange(timersOf(call, defaultEngineSettings), []),
          facts: [],
        },
      }));
      expect(done).toEqual({ value: call.version, result: { ok: true } });
    });

    it("update: a call's commands at once run one after the other, each on the last commit", async () => {
      const call = makeCall("alice", ["bob"]);
      await insert(store, call);
      const seen: number[] = [];
      const bump = () =>
        store.update(call.callID, async (stored) => {
          if (!stored) throw new Error("no call");
          seen.push(stored.version);
          // A decision that waits (another node's answer): the others still wait for it.
          await new Promise((resolve) => setTimeout(resolve, 5));
          return {
            value: stored.version,
            change: {
              call: { ...stored, version: stored.version + 1 },
              before: stored,
              timers: timerChange([], []),
              facts: [],
            },
          };
        });
      const results = await Promise.all([bump(), bump(), bump(), bump()]);
      expect(results.every((r) => r.result?.ok === true)).toBe(true);
      expect(seen).toEqual([call.version, call.version + 1, call.version + 2, call.version + 3]);
      expect((await store.getCall(call.callID))?.version).toBe(call.version + 4);
    });

    it("of two concurrent commits on one call, exactly one wins", async () => {
      const call = makeCall("alice", ["bob"]);
      await insert(store, call);
      const byBob = accepted(call, "bob");
      const timedOut = { ...ended(call, 1_000_200) };
      const results = await Promise.all([
        update(store, call, byBob.call, byBob.facts),
        update(store, call, timedOut),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, conflict: "version" }]);
      const stored = await store.getCall(call.callID);
      expect([byBob.call, timedOut]).toContainEqual(stored);
    });

    it("a failing commit in a batch leaves its siblings written", async () => {
      const good = makeCall("alice", ["bob"]);
      const other = makeCall("carol", ["dave"]);
      await insert(store, other);
      const results = await Promise.allSettled([
        insert(store, good),
        // A stale write of an existing call fails, in the same turn as the good one.
        update(store, { ...other, version: 99 }, ended(other, 5)),
        insert(store, makeCall("erin", ["frank"])),
      ]);
      expect(results.map((r) => r.status === "fulfilled" && r.value.ok)).toEqual([
        true,
        false,
        true,
      ]);
      expect(await store.getCall(good.callID)).toEqual(good);
      expect(await store.getCall(other.callID)).toEqual(other);
    });

    it("a new call whose ID is taken fails alone, in the same batch as others", async () => {
      const first = makeCall("alice", ["bob"]);
      const same = { ...makeCall("carol", ["dave"]), callID: first.callID };
      const other = makeCall("erin", ["frank"]);
      const results = await Promise.allSettled([
        insert(store, first),
        insert(store, same),
        insert(store, other),
      ]);
      // Of the two with one ID, one is stored (which one depends on the backend's order).
      const won = results.map((r) => r.status === "fulfilled" && r.value.ok);
      expect(won[2]).toBe(true);
      expect(won.slice(0, 2).filter(Boolean)).toHaveLength(1);
      const [stored, lost] = won[0] ? [first, same] : [same, first];
      expect(await store.getCall(first.callID)).toEqual(stored);
      expect(await store.getCall(other.callID)).toEqual(other);
      expect(await store.activeCallsOf(lost.caller)).toEqual([]);
      expect((await store.listCallsOf(lost.caller, 10, 0)).calls).toEqual([]);
    });

    it("writes only the timers that changed, and clears the ones that went", async () => {
      const call = makeCall("alice", ["bob", "carol"]);
      await insert(store, call);
      const byBob = accepted(call, "bob");
      await update(store, call, byBob.call, byBob.facts);
      const timers = (await store.allTimers()).map((t) => [t.kind, t.userID]);
      expect(timers).toEqual([["deadline", "carol"]]);
    });

    it("checks the busy rule inside the commit", async () => {
      const first = makeCall("alice", ["bob"]);
      const second = makeCall("alice", ["carol"]);
      const [a, b] = await Promise.all([
        store.commit({
          call: first,
          before: null,
          timers: { set: [], clear: [], all: [] },
          facts: [],
          idleUser: "alice",
        }),
        store.commit({
          call: second,
          before: null,
          timers: { set: [], clear: [], all: [] },
          facts: [],
          idleUser: "alice",
        }),
      ]);
      expect([a, b].filter((r) => r.ok)).toHaveLength(1);
      expect([a, b].filter((r) => !r.ok)).toEqual([{ ok: false, conflict: "busy" }]);
      // An invitee Accepted in a call that still rings for others is busy too.
      const group = makeCall("gina", ["hal", "ivy"]);
      await insert(store, group);
      const byHal = accepted(group, "hal");
      await update(store, group, byHal.call);
      const idle = (userID: string) =>
        store.commit({
          call: makeCall(userID, ["yan"]),
          before: null,
          timers: { set: [], clear: [], all: [] },
          facts: [],
          idleUser: userID,
        });
      expect(await idle("ivy")).toEqual({ ok: true });
      const busy = await idle("hal");
      expect(busy).toEqual({ ok: false, conflict: "busy" });
    });

    it("keeps each commit's facts in the outbox, in commit order, until acknowledged", async () => {
      const call = makeCall("alice", ["bob"]);
      const created = createCall(
        {
          type: "invite",
          actor: { userID: "alice", deviceID: "a1" },
          callID: call.callID,
          invitees: ["bob"],
          knownUsers: new Set(["bob"]),
          callerBusy: false,
        },
        1_000_000,
        defaultEngineSettings,
      );
      if (!created.ok) throw created.error;
      await insert(store, created.call, created.facts);
      const byBob = accepted(created.call, "bob");
      await update(store, created.call, byBob.call, byBob.facts);
      await insert(store, makeCall("carol", ["dave"]));
      const entries = await store.readOutbox(10);
      expect(entries.map((e) => [e.callID, e.version])).toEqual([
        [call.callID, 1],
        [call.callID, 2],
      ]);
      expect(entries[0]?.facts.map((f) => f.kind)).toEqual(["call.created", "member.invited"]);
      expect(entries[1]?.facts.map((f) => f.kind)).toEqual(["member.accepted", "call.ended"]);
      await store.ackOutbox([entries[0]?.id as number]);
      expect((await store.readOutbox(10)).map((e) => e.version)).toEqual([2]);
      await store.ackOutbox([entries[1]?.id as number]);
      expect(await store.readOutbox(10)).toEqual([]);
    });

    it("keeps each commit's facts and the deliveries riding on it as the call's log", async () => {
      const created = createCall(
        {
          type: "invite",
          actor: { userID: "alice", deviceID: "a1" },
          callID: `call-${++counter}-log`,
          invitees: ["bob"],
          knownUsers: new Set(["bob"]),
          callerBusy: false,
        },
        1_000_000,
        defaultEngineSettings,
      );
      if (!created.ok) throw created.error;
      const { callID } = created.call;
      const delivery = (deviceID: string, at: number, step: "sent" | "received" = "sent") => ({
        callID,
        userID: "bob",
        deviceID,
        step,
        deadline: step === "sent" ? 1_030_000 : 0,
        at,
      });
      await insert(store, created.call, created.facts);
      const byBob = accepted(created.call, "bob");
      // A commit that loses its compare-and-set stores none of its deliveries.
      expect(
        await store.commit({
          call: byBob.call,
          before: { ...created.call, version: 7 },
          timers: timerChange([], []),
          facts: byBob.facts,
          deliveries: [delivery("stale", 1)],
        }),
      ).toEqual({ ok: false, conflict: "version" });
      expect(
        await store.commit({
          call: byBob.call,
          before: created.call,
          timers: timerChange(timersOf(created.call, defaultEngineSettings), []),
          facts: byBob.facts,
          deliveries: [
            delivery("phone", 20),
            delivery("laptop", 10),
            delivery("phone", 30, "received"),
          ],
        }),
      ).toEqual({ ok: true });
      // Recorded on their own (no commit to ride on), and again from another node: the first
      // time of each device's step stays.
      await store.recordDeliveries([
        delivery("laptop", 40, "received"),
        delivery("phone", 15),
        delivery("phone", 50),
        { ...delivery("tablet", 5), callID: "another-call" },
      ]);
      const expected = {
        facts: [...created.facts, ...byBob.facts],
        deliveries: [
          delivery("laptop", 10),
          delivery("phone", 15),
          delivery("phone", 30, "received"),
          delivery("laptop", 40, "received"),
        ],
      };
      expect(await store.logOf(callID)).toEqual(expected);
      // Acknowledged facts leave the outbox, not the log.
      const entries = await store.readOutbox(10);
      await store.ackOutbox(entries.map((entry) => entry.id));
      expect(await store.readOutbox(10)).toEqual([]);
      expect(await store.logOf(callID)).toEqual(expected);
      expect(await store.logOf("no-such-call")).toEqual({ facts: [], deliveries: [] });
    });

    it("forgets a purged call's log, and only its", async () => {
      const old = makeCall("alice", ["bob"]);
      const kept = makeCall("carol", ["dave"]);
      const facts = (call: Call): Fact[] => [
        { kind: "call.ended", callID: call.callID, mode: call.mode, at: 1_000 },
      ];
      for (const call of [old, kept]) {
        await insert(store, call);
        await update(store, call, ended(call, 1_000), facts(call));
        await store.recordDeliveries([
          {
            callID: call.callID,
            userID: "bob",
            deviceID: "phone",
            step: "sent",
            deadline: 9,
            at: 500,
          },
        ]);
      }
      await store.ackOutbox((await store.readOutbox(10)).map((entry) => entry.id));
      await update(store, ended(kept, 1_000), {
        ...ended(kept, 1_000),
        endTime: 9_000,
        version: 3,
      });
      expect(await store.purgeEndedBefore(5_000)).toBe(1);
      expect(await store.logOf(old.callID)).toEqual({ facts: [], deliveries: [] });
      expect((await store.logOf(kept.callID)).facts).toEqual(facts(kept));
      expect((await store.logOf(kept.callID)).deliveries).toHaveLength(1);
    });

    it("answers a ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it("knows the users it was told of", async () => {
      await store.addUsers(["alice", "bob"]);
      await store.addUsers(["bob"]);
      expect(await store.knownUsers(["alice", "bob", "eve"])).toEqual(new Set(["alice", "bob"]));
      // Asked again: the answer stands, and a user unknown a moment ago is known once added
      // (another node may register a user between two invites).
      expect(await store.knownUsers(["bob", "eve"])).toEqual(new Set(["bob"]));
      await store.addUsers(["eve"]);
      expect(await store.knownUsers(["alice", "eve", "mallory"])).toEqual(
        new Set(["alice", "eve"]),
      );
      expect(await store.knownUsers([])).toEqual(new Set());
    });
  });
}
