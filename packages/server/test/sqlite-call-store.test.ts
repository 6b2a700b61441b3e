// The CallStore contract on SQLite, in memory and in a WAL file that outlives the store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
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

it("a new file gets 2 KiB pages, in WAL mode; a file made with other pages keeps them", async () => {
  const fresh = join(dir, "pages.db");
  await new SqliteCallStore(fresh).close();
  const made = new Database(fresh, { readonly: true });
  expect(made.pragma("page_size", { simple: true })).toBe(2048);
  expect(made.pragma("journal_mode", { simple: true })).toBe("wal");
  made.close();
  const older = join(dir, "older.db");
  const before = new Database(older);
  before.pragma("page_size = 4096");
  before.pragma("journal_mode = WAL");
  before.exec("CREATE TABLE kept (x)");
  before.close();
  const store = new SqliteCallStore(older);
  const call = makeCall("alice", ["bob"]);
  await insert(store, call);
  expect(await store.getCall(call.callID)).toEqual(call);
  await store.close();
  const after = new Database(older, { readonly: true });
  expect(after.pragma("page_size", { simple: true })).toBe(4096);
  after.close();
});
