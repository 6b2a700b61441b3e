// One way for the integration stores to speak to SQLite (better-sqlite3) and PostgreSQL (pg):
// a statement is written once with `$1…` placeholders and prepared once per connection; where
// the dialects differ (JSON columns, GREATEST vs MAX), it carries its PostgreSQL text apart.
// Rows come back as the driver reads them; the store maps them, once, for both.
import type Database from "better-sqlite3";
import type pg from "pg";

export interface Statement {
  /** Unique per text: the prepared statement's name on both drivers. */
  name: string;
  text: string;
  /** The PostgreSQL text, where it differs. */
  postgres?: string;
}

export interface SqlDatabase {
  readonly dialect: "sqlite" | "postgres";
  /** The rows a query returns. */
  all<R>(statement: Statement, values?: readonly unknown[]): Promise<R[]>;
  /** Runs a write; resolves with how many rows it changed. */
  run(statement: Statement, values?: readonly unknown[]): Promise<number>;
}

/**
 * SQLite: each `$n` becomes a `?` (better-sqlite3 binds numbered ones only by name), the values
 * put in the order the placeholders stand; each statement is prepared the first time it runs.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = "sqlite";
  private readonly prepared = new Map<string, { statement: Database.Statement; order: number[] }>();

  constructor(private readonly db: Database.Database) {}

  async all<R>(statement: Statement, values: readonly unknown[] = []): Promise<R[]> {
    const { statement: prepared, order } = this.statementOf(statement);
    return prepared.all(...order.map((index) => values[index])) as R[];
  }

  async run(statement: Statement, values: readonly unknown[] = []): Promise<number> {
    const { statement: prepared, order } = this.statementOf(statement);
    return prepared.run(...order.map((index) => values[index])).changes;
  }

  private statementOf(statement: Statement) {
    let prepared = this.prepared.get(statement.name);
    if (!prepared) {
      const order: number[] = [];
      const text = statement.text.replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return "?";
      });
      prepared = { statement: this.db.prepare(text), order };
      this.prepared.set(statement.name, prepared);
    }
    return prepared;
  }
}

/** PostgreSQL: named statements, which pg prepares once per connection of the pool. */
export class PostgresDatabase implements SqlDatabase {
  readonly dialect = "postgres";

  /** `pool` must have the schema holding the tables on its search path. */
  constructor(private readonly pool: pg.Pool) {}

  async all<R>(statement: Statement, values: readonly unknown[] = []): Promise<R[]> {
    const result = await this.pool.query({
      name: statement.name,
      text: statement.postgres ?? statement.text,
      values: [...values],
    });
    return result.rows as R[];
  }

  async run(statement: Statement, values: readonly unknown[] = []): Promise<number> {
    const result = await this.pool.query({
      name: statement.name,
      text: statement.postgres ?? statement.text,
      values: [...values],
    });
    return result.rowCount ?? 0;
  }
}
