// The outbox relay hands committed facts to hooks in version order, again after a hook fails,
// and never for a commit that did not happen.
import { applyCommand, createCall, defaultEngineSettings, type Fact } from "@beckon/engine";
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import type { Hook } from "../src/hooks/hook.js";
import { OutboxRelay } from "../src/hooks/outbox-relay.js";
import { SqliteCallStore } from "../src/store/sqlite-call-store.js";
import { insert, update } from "./support/store-contract.js";

const log = pino({ level: "silent" });
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

function invite(callID: string) {
  const decision = createCall(
    {
      type: "invite",
      actor: { userID: "alice", deviceID: "a1" },
      callID,
      invitees: ["bob"],
      knownUsers: new Set(["bob"]),
      callerBusy: false,
    },
    1_000,
    defaultEngineSettings,
  );
  if (!decision.ok) throw decision.error;
  return decision;
}

/** A hook that records facts and wakes waiters; it can be told to fail its next calls. */
function recorder() {
  const seen: Array<{ fact: Fact; id: string }> = [];
  let failures = 0;
  let wake = () => {};
  const hook: Hook = {
    name: "recorder",
    async onFact(fact, meta) {
      if (failures > 0) {
        failures--;
        throw new Error("endpoint down");
      }
      seen.push({ fact, id: meta.id });
      wake();
    },
  };
  return {
    hook,
    seen,
    failNext(count: number) {
      failures = count;
    },
    async until(count: number) {
      while (seen.length < count) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

it("delivers each call's facts in version order, and acknowledges them", async () => {
  const store = new SqliteCallStore(":memory:");
  const record = recorder();
  const relay = new OutboxRelay(store, [record.hook], log);
  stops.push(
    () => relay.stop(),
    () => store.close(),
  );
  const created = invite("c1");
  await insert(store, created.call, created.facts);
  const accepted = applyCommand(
    created.call,
    { type: "accept", actor: { userID: "bob", deviceID: "b1" } },
    2_000,
    defaultEngineSettings,
  );
  if (!accepted.ok) throw accepted.error;
  await update(store, created.call, accepted.call, accepted.facts);
  relay.kick();
  await record.until(4);
  expect(record.seen.map((s) => [s.fact.kind, s.id])).toEqual([
    ["call.created", "c1:1:0"],
    ["member.invited", "c1:1:1"],
    ["member.accepted", "c1:2:0"],
    ["call.ended", "c1:2:1"],
  ]);
  await relay.stop();
  expect(await store.readOutbox(10)).toEqual([]);
});

it("a hook that fails gets the same facts again, with the same ids", async () => {
  const store = new SqliteCallStore(":memory:");
  const record = recorder();
  record.failNext(1);
  const relay = new OutboxRelay(store, [record.hook], log);
  stops.push(
    () => relay.stop(),
    () => store.close(),
  );
  const created = invite("c2");
  await insert(store, created.call, created.facts);
  relay.kick();
  await record.until(2);
  expect(record.seen.map((s) => s.id)).toEqual(["c2:1:0", "c2:1:1"]);
});

it("a commit that lost its compare-and-set leaves no facts behind", async () => {
  const store = new SqliteCallStore(":memory:");
  stops.push(() => store.close());
  const created = invite("c3");
  await insert(store, created.call, []);
  const stale = { ...created.call, version: 7 };
  const result = await update(store, stale, { ...created.call, version: 8 }, created.facts);
  expect(result).toEqual({ ok: false, conflict: "version" });
  expect(await store.readOutbox(10)).toEqual([]);
});

it("flush resolves once what was committed before it reached the hooks, even mid-round", async () => {
  const store = new SqliteCallStore(":memory:");
  const record = recorder();
  const relay = new OutboxRelay(store, [record.hook], log);
  stops.push(
    () => relay.stop(),
    () => store.close(),
  );
  const first = invite("c4");
  await insert(store, first.call, first.facts);
  await relay.flush();
  expect(record.seen.map((s) => s.id)).toEqual(["c4:1:0", "c4:1:1"]);

  // A round under way read the outbox before the second commit: flush waits for one more.
  const second = invite("c5");
  const third = invite("c6");
  await insert(store, second.call, second.facts);
  relay.kick();
  const midRound = record.until(3);
  await midRound;
  await insert(store, third.call, third.facts);
  await relay.flush();
  expect(record.seen.map((s) => s.id)).toEqual([
    "c4:1:0",
    "c4:1:1",
    "c5:1:0",
    "c5:1:1",
    "c6:1:0",
    "c6:1:1",
  ]);
  expect(await store.readOutbox(10)).toEqual([]);
});

it("a store that cannot be read (a database restart) leaves no rejection behind; the facts come later", async () => {
  const store = new SqliteCallStore(":memory:");
  const record = recorder();
  let down = 1;
  const read = store.readOutbox.bind(store);
  let tried = () => {};
  const attempted = new Promise<void>((resolve) => (tried = resolve));
  // Once unreachable, then back (vitest fails the run on an unhandled rejection).
  store.readOutbox = async (limit) => {
    tried();
    if (down-- > 0) throw new Error("Connection terminated unexpectedly");
    return read(limit);
  };
  const relay = new OutboxRelay(store, [record.hook], log);
  stops.push(
    () => relay.stop(),
    () => store.close(),
  );
  const created = invite("c9");
  await insert(store, created.call, created.facts);
  relay.kick();
  await attempted;
  await record.until(2);
  expect(record.seen.map((s) => s.id)).toEqual(["c9:1:0", "c9:1:1"]);
});
