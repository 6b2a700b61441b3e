// Where a call's timeline is kept: the facts of each commit under a key, read back in version
// order. SQLite here (one node); PostgreSQL in postgres-timeline-store.ts (a cluster).
import type { Fact } from "@beckon/engine";
import type Database from "better-sqlite3";
import { migrateModule } from "../sqlite/module-schema.js";

/** One commit's facts (or one fact alone), stored once per `key`. */
export interface TimelineRecord {
  /** `callID:version` for a whole commit, the outbox id for one fact. */
  key: string;
  callID: string;
  version: number;
  at: number;
  facts: Fact[];
}

export interface TimelineStore {
  /** Stores the records in one transaction; a key stored before is left as it was. */
  append(records: readonly TimelineRecord[]): Promise<void>;
  /** The call's facts in commit order. */
  factsOf(callID: string): Promise<Fact[]>;
  /** Forgets records older than `time`; returns how many. */
  purgeBefore(time: number): Promise<number>;
}

const migrations = [
  `CREATE TABLE call_timeline (
     fact_id TEXT PRIMARY KEY,
     call_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     at INTEGER NOT NULL,
     fact TEXT NOT NULL
   );
   CREATE INDEX call_timeline_call ON call_timeline(call_id, version);`,
];

export class SqliteTimelineStore implements TimelineStore {
  private readonly statements;
  private readonly insertAll: (records: readonly TimelineRecord[]) => void;

  constructor(db: Database.Database) {
    migrateModule(db, "timeline", migrations);
    this.statements = {
      insert: db.prepare<[string, string, number, number, string]>(
        `INSERT INTO call_timeline (fact_id, call_id, version, at, fact) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (fact_id) DO NOTHING`,
      ),
      of: db.prepare<[string], { fact: string }>(
        "SELECT fact FROM call_timeline WHERE call_id = ? ORDER BY version, rowid",
      ),
      purge: db.prepare<[number]>("DELETE FROM call_timeline WHERE at < ?"),
    };
    this.insertAll = db.transaction((records: readonly TimelineRecord[]) => {
      for (const record of records) {
        this.statements.insert.run(
          record.key,
          record.callID,
          record.version,
          record.at,
          JSON.stringify(record.facts),
        );
      }
    });
  }

  async append(records: readonly TimelineRecord[]): Promise<void> {
    this.insertAll(records);
  }

  async factsOf(callID: string): Promise<Fact[]> {
    return this.statements.of.all(callID).flatMap((row) => JSON.parse(row.fact) as Fact[]);
  }

  async purgeBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
  }
}
