// Tables that belong to one module (push, webhooks, API keys) rather than to the call store:
// each module keeps its own list of migrations and its own version, so modules never share a
// migration list or step on the call store's `user_version`.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

/** Opens a SQLite file (or ':memory:') the way every Beckon store does. */
export function openSqlite(path: string): Database.Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  // The call store writes to the same file from its own connection.
  db.pragma("busy_timeout = 5000");
  return db;
}

/** Applies the module's migrations it has not seen yet, each in its own transaction. */
export function migrateModule(
  db: Database.Database,
  module: string,
  migrations: readonly string[],
): void {
  db.exec(`CREATE TABLE IF NOT EXISTS module_schema (
    module TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  )`);
  const row = db.prepare<[string], { version: number }>(
    "SELECT version FROM module_schema WHERE module = ?",
  );
  const save = db.prepare<[string, number]>(
    `INSERT INTO module_schema (module, version) VALUES (?, ?)
     ON CONFLICT (module) DO UPDATE SET version = excluded.version`,
  );
  db.transaction(() => {
    const from = row.get(module)?.version ?? 0;
    if (from > migrations.length) {
      throw new Error(`the ${module} tables are newer (${from}) than this server knows`);
    }
    for (let version = from; version < migrations.length; version++) {
      db.exec(migrations[version] as string);
      save.run(module, version + 1);
    }
  }).immediate();
}
