// When the server sent each device a call's invitation and when the device acknowledged it:
// the storage behind the delivery log, kept behind a small interface so another database can
// hold it. All of its SQL is in this file.
import type Database from "better-sqlite3";
import { migrateModule } from "../sqlite/module-schema.js";

/**
 * `sent`: the invitation was put on the device's event stream (written at once to an attached
 * socket, replayed on resume to one that is away). `received`: the device's receipt came in.
 */
export type DeliveryStep = "sent" | "received";

export interface DeliveryRecord {
  callID: string;
  userID: string;
  deviceID: string;
  step: DeliveryStep;
  /** The invitation's deadline for a send (a member invited again gets a new one); 0 for a receipt. */
  deadline: number;
  /** Server time. */
  at: number;
}

export interface DeliveryLogStore {
  /** Adds records; one already stored (same call, device, step, deadline) keeps its first time. */
  add(records: readonly DeliveryRecord[]): Promise<void>;
  /** A call's records, oldest first. */
  of(callID: string): Promise<DeliveryRecord[]>;
  /** Forgets records older than `time` (the calls' retention); returns how many. */
  purgeBefore(time: number): Promise<number>;
}

const migrations = [
  `CREATE TABLE device_deliveries (
     call_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     device_id TEXT NOT NULL,
     step TEXT NOT NULL,
     deadline INTEGER NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (call_id, user_id, device_id, step, deadline)
   ) WITHOUT ROWID;
   CREATE INDEX device_deliveries_at ON device_deliveries(at);`,
];

interface DeliveryRow {
  call_id: string;
  user_id: string;
  device_id: string;
  step: DeliveryStep;
  deadline: number;
  at: number;
}

export class SqliteDeliveryLogStore implements DeliveryLogStore {
  private readonly statements;
  private readonly addAll: (records: readonly DeliveryRecord[]) => void;

  constructor(db: Database.Database) {
    migrateModule(db, "device_deliveries", migrations);
    this.statements = {
      insert: db.prepare<[string, string, string, DeliveryStep, number, number]>(
        `INSERT INTO device_deliveries (call_id, user_id, device_id, step, deadline, at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET at = min(at, excluded.at)`,
      ),
      of: db.prepare<[string], DeliveryRow>(
        "SELECT * FROM device_deliveries WHERE call_id = ? ORDER BY at, step DESC, user_id, device_id",
      ),
      purge: db.prepare<[number]>("DELETE FROM device_deliveries WHERE at < ?"),
    };
    this.addAll = db.transaction((records: readonly DeliveryRecord[]) => {
      for (const r of records) {
        this.statements.insert.run(r.callID, r.userID, r.deviceID, r.step, r.deadline, r.at);
      }
    });
  }

  async add(records: readonly DeliveryRecord[]): Promise<void> {
    if (records.length > 0) this.addAll(records);
  }

  async of(callID: string): Promise<DeliveryRecord[]> {
    return this.statements.of.all(callID).map((row) => ({
      callID: row.call_id,
      userID: row.user_id,
      deviceID: row.device_id,
      step: row.step,
      deadline: row.deadline,
      at: row.at,
    }));
  }

  async purgeBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
  }
}
