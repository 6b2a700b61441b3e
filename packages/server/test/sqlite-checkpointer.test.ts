// WAL checkpoints happen on the checkpoint worker, not inside the commits of the serving thread:
// pages written through a connection reach the database file while that connection's own limit
// is far away, and stop reaching it once the worker is released.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  checkpointInBackground,
  FALLBACK_AUTOCHECKPOINT_PAGES,
} from "../src/sqlite/checkpointer.js";
import { openSqlite } from "../src/sqlite/module-schema.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openFile() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-checkpoints-"));
  dirs.push(dir);
  const path = join(dir, "beckon.db");
  const db = openSqlite(path);
  db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const insert = db.prepare<[string]>("INSERT INTO rows (body) VALUES (?)");
  /** Writes about `megabytes` MB in transactions of 100 KB. */
  const write = (megabytes: number) => {
    const body = "x".repeat(1_000);
    for (let round = 0; round < megabytes * 10; round++) {
      db.transaction(() => {
        for (let i = 0; i < 100; i++) insert.run(body);
      })();
    }
  };
  return { db, path, write };
}

describe("background WAL checkpoints", () => {
  it("copy committed pages into the database file without the committing connection", async () => {
    const { db, path, write } = openFile();
    const release = checkpointInBackground(db, path);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(FALLBACK_AUTOCHECKPOINT_PAGES);
    const before = statSync(path).size;
    write(3);
    // 3 MB is far below the connection's own limit (40 MB): only the worker moves it.
    await expect.poll(() => statSync(path).size).toBeGreaterThan(before + 2_500_000);

    await release();
    const stopped = statSync(path).size;
    write(3);
    // The WAL took the new pages ...
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(3_000_000);
    // ... and with the worker gone, nothing copied them into the database file.
    expect(statSync(path).size).toBe(stopped);
    db.close();
  });

  it("shares one worker among the connections to one file and stops it with the last", async () => {
    const { db, path, write } = openFile();
    const other = openSqlite(path);
    const releaseFirst = checkpointInBackground(db, path);
    const releaseOther = checkpointInBackground(other, path);
    await releaseFirst();
    const before = statSync(path).size;
    write(3);
    // The other connection still holds the worker.
    await expect.poll(() => statSync(path).size).toBeGreaterThan(before + 2_500_000);
    await releaseOther();
    const stopped = statSync(path).size;
    write(3);
    expect(statSync(path).size).toBe(stopped);
    other.close();
    db.close();
  });

  it("does nothing for an in-memory database", async () => {
    const db = openSqlite(":memory:");
    const release = checkpointInBackground(db, ":memory:");
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1_000);
    await release();
    db.close();
  });
});
