// Counts what the server under test asks of SQLite: statements run and transactions committed on
// this process's connections (the checkpoint worker's are not the request path's and are not
// counted). Installed by wrapping better-sqlite3's prototypes before the server opens its store,
// so the server's own code carries no instrumentation.
import Database from "better-sqlite3";

export interface SqliteCounts {
  /** Statements that write (`run`), each execution counted; transaction control is not. */
  writes: number;
  /** BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK: run by better-sqlite3's transactions. */
  control: number;
  /** Statements that read (`get`, `all`, `iterate`). */
  reads: number;
  /** Outermost transactions (a nested transaction function is a savepoint, not counted). */
  transactions: number;
  /** Multi-statement scripts (`exec`): migrations and the like. */
  scripts: number;
  /** Executions per statement (its SQL, whitespace folded): where the counts come from. */
  bySql: Record<string, number>;
}

const counts: SqliteCounts = {
  writes: 0,
  control: 0,
  reads: 0,
  transactions: 0,
  scripts: 0,
  bySql: {},
};

const CONTROL = /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;
let installed = false;

type Method = (this: unknown, ...args: unknown[]) => unknown;

function wrap(target: object, name: string, count: (self: unknown) => void): void {
  const original = (target as Record<string, Method>)[name];
  if (typeof original !== "function") throw new Error(`better-sqlite3 has no ${name}`);
  (target as Record<string, Method>)[name] = function (this: unknown, ...args: unknown[]) {
    count(this);
    return original.apply(this, args);
  };
}

function countSql(statement: unknown): void {
  const source = (statement as { source?: string }).source ?? "?";
  const key = source.replace(/\s+/g, " ").slice(0, 120);
  counts.bySql[key] = (counts.bySql[key] ?? 0) + 1;
}

/** Starts counting; every connection opened afterwards (and before) in this process is counted. */
export function installSqliteCounters(): void {
  if (installed) return;
  installed = true;
  const probe = new Database(":memory:");
  const statementProto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as object;
  probe.close();
  wrap(statementProto, "run", (statement) => {
    const source = (statement as { source?: string }).source ?? "";
    if (CONTROL.test(source)) counts.control++;
    else counts.writes++;
    countSql(statement);
  });
  for (const name of ["get", "all", "iterate"]) {
    wrap(statementProto, name, (statement) => {
      counts.reads++;
      countSql(statement);
    });
  }
  const databaseProto = Database.prototype as unknown as Record<string, Method>;
  wrap(databaseProto, "exec", () => counts.scripts++);
  const transaction = databaseProto.transaction as Method;
  databaseProto.transaction = function (this: unknown, fn: unknown) {
    const made = transaction.call(this, fn) as Method & Record<string, Method>;
    const db = this as Database.Database;
    const counted = function (this: unknown, ...args: unknown[]) {
      if (!db.inTransaction) counts.transactions++;
      return made.apply(this, args);
    };
    // The variants (`deferred`, `immediate`, `exclusive`) are rarely used; they stay uncounted
    // but callable.
    for (const variant of ["deferred", "immediate", "exclusive"]) {
      Object.defineProperty(counted, variant, { value: made[variant] });
    }
    return counted;
  };
}

export function sqliteCounts(): SqliteCounts {
  return { ...counts, bySql: { ...counts.bySql } };
}
