// What the shared SQL layer costs on the hot path of an API request (a key's look-up), against
// the hand-written statement each dialect's own store ran before: the same rows, the same number
// of statements, and the CPU time of both measured in the same run (printed, never asserted:
// timings on a shared machine are not a verdict).
import Database from "better-sqlite3";
import type pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  parseKey,
  SqlApiKeyStore,
  SqliteApiKeyStore,
  secretMatches,
} from "../src/api/api-key-store.js";
import { PostgresDatabase } from "../src/sql/sql-database.js";
import { PostgresCallStore } from "../src/store/postgres-call-store.js";
import { havePostgres, postgresSchemas, postgresUrl } from "./support/services.js";

const ROUNDS = 4;
const PER_ROUND = 2_000;
const NOW = 1_700_000_000_000;

/** CPU ms of `task` run `PER_ROUND` times, alternating the two paths so load hits both alike. */
async function compare(
  before: () => Promise<unknown>,
  after: () => Promise<unknown>,
): Promise<{ before: number; after: number }> {
  const spent = { before: 0, after: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, task] of [
      ["before", before],
      ["after", after],
    ] as const) {
      const start = process.cpuUsage();
      for (let i = 0; i < PER_ROUND; i++) await task();
      const used = process.cpuUsage(start);
      spent[name] += (used.user + used.system) / 1000;
    }
  }
  return spent;
}

function report(dialect: string, spent: { before: number; after: number }): void {
  const calls = ROUNDS * PER_ROUND;
  console.log(
    `${dialect} key look-up, ${calls} calls each: hand-written ${(spent.before / calls).toFixed(4)} CPU-ms/call, ` +
      `shared layer ${(spent.after / calls).toFixed(4)} CPU-ms/call (ratio ${(spent.after / spent.before).toFixed(2)})`,
  );
}

it("SQLite: the shared layer runs one statement per look-up, as the hand-written one did", async () => {
  const db = new Database(":memory:");
  const store = new SqliteApiKeyStore(db);
  const created = await store.create("backend", ["read"], NOW);
  // Marked used now, so no look-up below writes.
  await store.verify(created.key, NOW);
  // The SQLite store as it was before the shared layer: its own prepared statement and mapping.
  const get = db.prepare<[string], HandRow & { scopes: string }>(
    "SELECT * FROM api_keys WHERE id = ?",
  );
  const before = async () => {
    const parsed = parseKey(created.key);
    if (!parsed) return undefined;
    const row = get.get(parsed.id);
    if (!row || !secretMatches(row.hash, parsed.secret)) return undefined;
    return handKeyOf({ ...row, scopes: JSON.parse(row.scopes) as string[], last_used_at: NOW + 1 });
  };
  const after = () => store.verify(created.key, NOW + 1);
  expect(await after()).toEqual(await before());

  // Statements the layer runs per look-up, counted on a store of its own.
  let statements = 0;
  const counted = new Database(":memory:");
  const prepare = counted.prepare.bind(counted);
  counted.prepare = ((text: string) => {
    const statement = prepare(text);
    for (const method of ["all", "get", "run"] as const) {
      const call = statement[method].bind(statement) as (...args: unknown[]) => unknown;
      (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        statements++;
        return call(...args);
      };
    }
    return statement;
  }) as typeof counted.prepare;
  const countedStore = new SqliteApiKeyStore(counted);
  const key = await countedStore.create("backend", ["read"], NOW);
  await countedStore.verify(key.key, NOW);
  statements = 0;
  await countedStore.verify(key.key, NOW + 1);
  expect(statements).toBe(1);

  report("SQLite", await compare(before, after));
  counted.close();
  db.close();
});

interface HandRow {
  id: string;
  name: string;
  hash: Buffer;
  created_at: number;
  last_used_at: number;
}

function handKeyOf(row: HandRow & { scopes: string[] }) {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

const available = await havePostgres();
const schemas = postgresSchemas();
afterAll(() => schemas.dropAll());

describe.runIf(available)("PostgreSQL", () => {
  it("the shared layer runs one statement per look-up, as the hand-written one did", async () => {
    const owner = await PostgresCallStore.open({
      connectionString: postgresUrl,
      schema: schemas.create(),
      poolSize: 2,
    });
    try {
      const pool = owner.pool;
      const store = new SqlApiKeyStore(new PostgresDatabase(pool));
      const created = await store.create("backend", ["read"], NOW);
      await store.verify(created.key, NOW);
      let statements = 0;
      const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>;
      // Both paths go through the counting pool, so the count costs them alike.
      (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
        statements++;
        return query(...args);
      };
      // The PostgreSQL store as it was before the shared layer.
      const before = async () => {
        const parsed = parseKey(created.key);
        if (!parsed) return undefined;
        const result = await pool.query<HandRow & { scopes: string[] }>({
          name: "bench_keys_get",
          text: "SELECT * FROM api_keys WHERE id = $1",
          values: [parsed.id],
        });
        const row = result.rows[0];
        if (!row || !secretMatches(row.hash, parsed.secret)) return undefined;
        return handKeyOf({ ...row, last_used_at: NOW + 1 });
      };
      const after = () => store.verify(created.key, NOW + 1);
      expect(await after()).toEqual(await before());
      statements = 0;
      await after();
      expect(statements).toBe(1);
      report("PostgreSQL", await compare(before, after));
    } finally {
      await owner.close();
    }
  });
});
