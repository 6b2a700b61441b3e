// Device deliveries cost no write of their own on the ring's path: they wait for their call's
// next commit and ride in its log entry; those that find none in time are written together,
// and nothing recorded is lost while the store fails for a while.
import { afterEach, expect, it } from "vitest";
import type { CallStore } from "../src/store/call-store.js";
import { SqliteCallStore } from "../src/store/sqlite-call-store.js";
import type { DeliveryRecord } from "../src/timeline/call-log.js";
import { PendingDeliveries } from "../src/timeline/pending-deliveries.js";
import { insert, makeCall } from "./support/store-contract.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function signal() {
  let fire = () => {};
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { fire, fired };
}

/**
 * The SQLite store holding calls c1 and c2, counting the writes of deliveries alone and failing
 * while `failing` is set.
 */
async function countingStore() {
  const sqlite = new SqliteCallStore(":memory:");
  cleanups.push(() => sqlite.close());
  for (const callID of ["c1", "c2"])
    await insert(sqlite, { ...makeCall("alice", ["bob"]), callID });
  const state = { writes: 0, failing: false, written: signal() };
  const store: Pick<CallStore, "recordDeliveries"> = {
    async recordDeliveries(records) {
      if (state.failing) {
        state.written.fire();
        throw new Error("disk full");
      }
      state.writes += 1;
      await sqlite.recordDeliveries(records);
      state.written.fire();
    },
  };
  /** Resolves at the next write (or failed write) of deliveries alone. */
  const nextWrite = () => {
    state.written = signal();
    return state.written.fired;
  };
  return { sqlite, store, state, nextWrite };
}

const sent = (deviceID: string, at: number, callID = "c1"): DeliveryRecord => ({
  callID,
  userID: "bob",
  deviceID,
  step: "sent",
  deadline: 1_000,
  at,
});

it("a call's records wait for its next commit, which takes them all", async () => {
  const { store, state } = await countingStore();
  const pending = new PendingDeliveries(store, undefined, 60_000);
  cleanups.push(() => pending.close());
  pending.record([sent("phone", 20)]);
  pending.record([sent("laptop", 10), sent("tablet", 5, "c2")]);
  expect(pending.of("c1")).toEqual([sent("phone", 20), sent("laptop", 10)]);
  expect(pending.take("c1")).toEqual([sent("phone", 20), sent("laptop", 10)]);
  expect(pending.take("c1")).toBeUndefined();
  expect(pending.of("c1")).toEqual([]);
  // A commit that failed gives them back, for the next one.
  pending.putBack("c1", [sent("phone", 20)]);
  expect(pending.take("c1")).toEqual([sent("phone", 20)]);
  expect(state.writes).toBe(0);
});

it("records no commit took in time are written by themselves, many calls' in one write", async () => {
  const { sqlite, store, state, nextWrite } = await countingStore();
  const pending = new PendingDeliveries(store, undefined, 20);
  cleanups.push(() => pending.close());
  const written = nextWrite();
  pending.record([sent("phone", 20), sent("tablet", 5, "c2")]);
  pending.record([sent("laptop", 10)]);
  await written;
  expect(state.writes).toBe(1);
  expect((await sqlite.logOf("c1")).deliveries).toEqual([sent("laptop", 10), sent("phone", 20)]);
  expect((await sqlite.logOf("c2")).deliveries).toEqual([sent("tablet", 5, "c2")]);
  expect(pending.of("c1")).toEqual([]);
});

it("records a failing store refused are written with the next round", async () => {
  const { sqlite, store, state, nextWrite } = await countingStore();
  const pending = new PendingDeliveries(store, undefined, 60_000);
  cleanups.push(() => pending.close());
  state.failing = true;
  pending.record([sent("phone", 20)]);
  const refused = nextWrite();
  await pending.flush();
  await refused;
  expect(state.writes).toBe(0);
  expect(pending.of("c1")).toEqual([sent("phone", 20)]);
  state.failing = false;
  pending.record([sent("laptop", 30)]);
  await pending.flush();
  expect(state.writes).toBe(1);
  expect((await sqlite.logOf("c1")).deliveries.map((record) => record.deviceID)).toEqual([
    "phone",
    "laptop",
  ]);
});
