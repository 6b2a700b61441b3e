// A call's timeline for the server API: every committed fact (who did what from which device,
// when), kept beside the call so the outbox can be trimmed.
import type { Fact } from "@beckon/engine";
import type Database from "better-sqlite3";
import type { FactMeta, Hook } from "../hooks/hook.js";
import { migrateModule } from "../sqlite/module-schema.js";

export interface TimelineEntry {
  at: number;
  kind: Fact["kind"];
  userID?: string;
  /** The device that acted; absent when a timer did or the fact is about the whole call. */
  deviceID?: string;
  fact: Fact;
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

export class TimelineHook implements Hook {
  readonly name = "timeline";
  private readonly statements;

  private readonly insertAll: (batch: ReadonlyArray<{ fact: Fact; meta: FactMeta }>) => void;

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
    this.insertAll = db.transaction((batch: ReadonlyArray<{ fact: Fact; meta: FactMeta }>) => {
      // One row per commit (callID:version), not per fact: a third of the writes.
      const commits = new Map<string, { callID: string; version: number; facts: Fact[] }>();
      for (const { fact, meta } of batch) {
        const key = `${fact.callID}:${meta.version}`;
        const commit = commits.get(key);
        if (commit) commit.facts.push(fact);
        else commits.set(key, { callID: fact.callID, version: meta.version, facts: [fact] });
      }
      for (const [key, { callID, version, facts }] of commits) {
        const at = facts[0]?.at ?? 0;
        this.statements.insert.run(key, callID, version, at, JSON.stringify(facts));
      }
    });
  }

  /** One fact alone (the relay hands whole rounds to `onFacts`): a row of its own. */
  async onFact(fact: Fact, meta: FactMeta): Promise<void> {
    this.statements.insert.run(meta.id, fact.callID, meta.version, fact.at, JSON.stringify([fact]));
  }

  /** A relay round in one transaction. */
  async onFacts(batch: ReadonlyArray<{ fact: Fact; meta: FactMeta }>): Promise<void> {
    this.insertAll(batch);
  }

  async of(callID: string): Promise<TimelineEntry[]> {
    // A row holds one commit's facts.
    const facts = this.statements.of.all(callID).flatMap((row) => JSON.parse(row.fact) as Fact[]);
    return facts.map((fact) => {
      const userID =
        "userID" in fact
          ? fact.userID
          : fact.kind === "call.created"
            ? fact.caller
            : fact.by?.userID;
      return {
        at: fact.at,
        kind: fact.kind,
        ...(userID !== undefined ? { userID } : {}),
        ...(fact.by?.deviceID ? { deviceID: fact.by.deviceID } : {}),
        fact,
      };
    });
  }

  /** Drops entries older than `time` (the calls' retention); returns how many. */
  async purgeBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
  }
}
