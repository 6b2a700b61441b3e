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
  const size = () => statSync(path).size;
  /** Writes 3 MB, far below a connection's own limit (40 MB), and waits for the file to take it. */
  const writeCheckpointed = async () => {
    const before = size();
    write(3);
    await expect.poll(size).toBeGreaterThan(before + 2_500_000);
  };
  /** Writes 3 MB and finds the database file as it was: nothing checkpointed it. */
  const writeUncheckpointed = () => {
    const stopped = size();
    write(3);
    expect(size()).toBe(stopped);
  };
  return { db, path, writeCheckpointed, writeUncheckpointed };
}

describe("background WAL checkpoints", () => {
  it("copy committed pages into the database file without the committing connection", async () => {
    const { db, path, writeCheckpointed, writeUncheckpointed } = openFile();
    const release = checkpointInBackground(db, path);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(FALLBACK_AUTOCHECKPOINT_PAGES);
    await writeCheckpointed();

    await release();
    // With the worker gone, the WAL takes the new pages and nothing copies them into the file.
    writeUncheckpointed();
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(3_000_000);
    db.close();
  });

  it("shares one worker among the connections to one file and stops it with the last", async () => {
    const { db, path, writeCheckpointed, writeUncheckpointed } = openFile();
    const other = openSqlite(path);
    const releaseFirst = checkpointInBackground(db, path);
    const releaseOther = checkpointInBackground(other, path);
    await releaseFirst();
    // The other connection still holds the worker.
    await writeCheckpointed();
    await releaseOther();
    writeUncheckpointed();
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
