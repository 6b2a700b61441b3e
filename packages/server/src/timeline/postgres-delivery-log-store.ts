// The delivery log in PostgreSQL (cluster mode): a device's sends and receipts are recorded by
// whichever node served it, and every node reads them for the call's timeline.
import type pg from "pg";
import type { DeliveryLogStore, DeliveryRecord, DeliveryStep } from "./delivery-log-store.js";

const sql = {
  add: {
    name: "beckon_deliveries_add",
    // A batch in one statement; a record seen twice in it (or stored already) keeps its first time.
    text: `INSERT INTO device_deliveries (call_id, user_id, device_id, step, deadline, at)
           SELECT call_id, user_id, device_id, step, deadline, min(at)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
             AS r(call_id, user_id, device_id, step, deadline, at)
           GROUP BY call_id, user_id, device_id, step, deadline
           ON CONFLICT (call_id, user_id, device_id, step, deadline)
           DO UPDATE SET at = least(device_deliveries.at, excluded.at)`,
  },
  of: {
    name: "beckon_deliveries_of",
    text: `SELECT call_id, user_id, device_id, step, deadline, at FROM device_deliveries
           WHERE call_id = $1 ORDER BY at, step DESC, user_id, device_id`,
  },
  purge: { name: "beckon_deliveries_purge", text: "DELETE FROM device_deliveries WHERE at < $1" },
} as const;

interface Row {
  call_id: string;
  user_id: string;
  device_id: string;
  step: DeliveryStep;
  deadline: string;
  at: string;
}

export class PostgresDeliveryLogStore implements DeliveryLogStore {
  /** `pool` must have the schema holding the integrations' tables on its search path. */
  constructor(private readonly pool: pg.Pool) {}

  async add(records: readonly DeliveryRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.pool.query({
      ...sql.add,
      values: [
        records.map((r) => r.callID),
        records.map((r) => r.userID),
        records.map((r) => r.deviceID),
        records.map((r) => r.step),
        records.map((r) => r.deadline),
        records.map((r) => r.at),
      ],
    });
  }

  async of(callID: string): Promise<DeliveryRecord[]> {
    const result = await this.pool.query<Row>({ ...sql.of, values: [callID] });
    return result.rows.map((row) => ({
      callID: row.call_id,
      userID: row.user_id,
      deviceID: row.device_id,
      step: row.step,
      deadline: Number(row.deadline),
      at: Number(row.at),
    }));
  }

  async purgeBefore(time: number): Promise<number> {
    const result = await this.pool.query({ ...sql.purge, values: [time] });
    return result.rowCount ?? 0;
  }
}
