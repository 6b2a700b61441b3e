// The delivery log keeps ring-time writes off the database: records wait in memory and go to
// SQLite in batches, idempotently, and nothing recorded is lost when the store fails for a while.
import { expect, it } from "vitest";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { DeliveryLog } from "../src/timeline/delivery-log.js";
import {
  type DeliveryLogStore,
  type DeliveryRecord,
  SqliteDeliveryLogStore,
} from "../src/timeline/delivery-log-store.js";

/** The SQLite store, counting its writes and failing while `failing` is set. */
function countingStore() {
  const db = openSqlite(":memory:");
  const sqlite = new SqliteDeliveryLogStore(db);
  const state = { writes: 0, failing: false };
  const store: DeliveryLogStore = {
    async add(records) {
      if (state.failing) throw new Error("disk full");
      state.writes += 1;
      await sqlite.add(records);
    },
    of: (callID) => sqlite.of(callID),
    purgeBefore: (time) => sqlite.purgeBefore(time),
  };
  return { store, state, close: () => db.close() };
}

const sent = (deviceID: string, at: number, deadline = 1_000): DeliveryRecord => ({
  callID: "c1",
  userID: "bob",
  deviceID,
  step: "sent",
  deadline,
  at,
});

it("many records from many rings are one write, read back in time order", async () => {
  const { store, state, close } = countingStore();
  const log = new DeliveryLog(store);
  log.record([sent("phone", 20)]);
  log.record([sent("laptop", 10)]);
  log.record([{ ...sent("phone", 30), step: "received", deadline: 0 }]);
  log.record([{ ...sent("tablet", 5), callID: "c2" }]);
  expect(state.writes).toBe(0);
  expect(await log.of("c1")).toEqual([
    sent("laptop", 10),
    sent("phone", 20),
    { ...sent("phone", 30), step: "received", deadline: 0 },
  ]);
  expect(state.writes).toBe(1);
  await log.close();
  close();
});

it("a record written again keeps its first time; a new deadline is a new send", async () => {
  const { store, close } = countingStore();
  const log = new DeliveryLog(store);
  log.record([sent("phone", 20)]);
  await log.flush();
  log.record([sent("phone", 50), sent("phone", 10), sent("phone", 60, 2_000)]);
  expect(await log.of("c1")).toEqual([sent("phone", 10), sent("phone", 60, 2_000)]);
  await log.close();
  close();
});

it("records a failing store refused are written with the next batch", async () => {
  const { store, state, close } = countingStore();
  const log = new DeliveryLog(store);
  state.failing = true;
  log.record([sent("phone", 20)]);
  await log.flush();
  expect(state.writes).toBe(0);
  state.failing = false;
  log.record([sent("laptop", 30)]);
  expect((await log.of("c1")).map((record) => record.deviceID)).toEqual(["phone", "laptop"]);
  expect(state.writes).toBe(1);
  await log.close();
  close();
});

it("forgets records older than the retention", async () => {
  const { store, close } = countingStore();
  const log = new DeliveryLog(store);
  log.record([sent("phone", 20), sent("laptop", 40)]);
  await log.flush();
  expect(await log.purgeBefore(30)).toBe(1);
  expect((await log.of("c1")).map((record) => record.deviceID)).toEqual(["laptop"]);
  await log.close();
  close();
});
