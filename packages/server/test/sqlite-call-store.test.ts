// The CallStore contract on SQLite, in memory and in a WAL file that outlives the store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { SqliteCallStore } from "../src/store/sqlite-call-store.js";
import { describeCallStore, insert, makeCall } from "./support/store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "beckon-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describeCallStore("SQLite :memory:", async () => new SqliteCallStore(":memory:"));
describeCallStore("SQLite file", async () => new SqliteCallStore(join(dir, `store-${++files}.db`)));

it("a file store keeps its calls across a reopen", async () => {
  const path = join(dir, "reopen.db");
  const first = new SqliteCallStore(path);
  const call = makeCall("alice", ["bob"]);
  await insert(first, call);
  await first.close();
  const second = new SqliteCallStore(path);
  try {
    expect(await second.getCall(call.callID)).toEqual(call);
  } finally {
    await second.close();
  }
});
