// WAL checkpoints off the event loop. SQLite checkpoints inside whichever commit pushes the WAL
// past its limit: that commit then copies pages into the database file and syncs it, on the
// thread that serves rings (measured: commit p99 went from 0.4 to 10 ms under a steady write
// load). Here a worker thread with its own connection checkpoints every few hundred
// milliseconds; a passive checkpoint never blocks writers, and every sync happens there. The
// serving connections keep a far higher limit as a safety net should the worker stop.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

/** How often the worker checkpoints. */
const INTERVAL_MS = 250;
/** WAL pages (4 KiB each) past which a serving connection checkpoints by itself after all. */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

// A CommonJS script run with `eval`, so it works the same from the TypeScript sources (tests)
// and the built package.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 1000");
// A failure is reported once, not every interval, until a checkpoint succeeds again.
let failing = "";
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
    failing = "";
  } catch (error) {
    const message = String(error && error.message || error);
    if (message !== failing) parentPort.postMessage(message);
    failing = message;
  }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

interface Running {
  worker: Worker;
  users: number;
  stopped: Promise<void>;
}

/** One worker per database file, shared by the connections of this process that use it. */
const running = new Map<string, Running>();

/**
 * Moves `db`'s checkpoints to the file's checkpoint worker (started by the first connection to
 * ask); returns the release to call before closing `db`. No-op for ':memory:'.
 */
export function checkpointInBackground(
  db: Database.Database,
  path: string,
  onError: (message: string) => void = (message) =>
    process.emitWarning(`SQLite checkpoints of ${path}: ${message}`),
): () => Promise<void> {
  if (path === ":memory:" || db.memory) return async () => {};
  db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  const key = resolve(path);
  let entry = running.get(key);
  if (!entry) {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path,
        intervalMs: INTERVAL_MS,
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
      },
    });
    worker.unref();
    worker.on("message", (message: string) => onError(message));
    worker.on("error", (error: Error) => onError(error.message));
    const stopped = new Promise<void>((done) =>
      worker.once("exit", () => {
        // A worker that died is not handed out again; the fallback limit covers its users.
        if (running.get(key)?.worker === worker) running.delete(key);
        done();
      }),
    );
    entry = { worker, users: 0, stopped };
    running.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    held.users--;
    if (held.users > 0) return;
    if (running.get(key) === held) running.delete(key);
    held.worker.postMessage("stop");
    await held.stopped;
  };
}
