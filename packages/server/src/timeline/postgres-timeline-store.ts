// Call timelines in PostgreSQL (cluster mode): whichever node relays a call's facts, every node
// reads the same timeline.
import type { Fact } from "@beckon/engine";
import type pg from "pg";
import type { TimelineRecord, TimelineStore } from "./timeline-store.js";

const sql = {
  append: {
    name: "beckon_timeline_append",
    // A relay round in one statement (so one transaction and one round trip).
    text: `INSERT INTO call_timeline (fact_id, call_id, version, at, facts)
           SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::jsonb[])
           ON CONFLICT (fact_id) DO NOTHING`,
  },
  of: {
    name: "beckon_timeline_of",
    text: "SELECT facts FROM call_timeline WHERE call_id = $1 ORDER BY version, seq",
  },
  purge: { name: "beckon_timeline_purge", text: "DELETE FROM call_timeline WHERE at < $1" },
} as const;

export class PostgresTimelineStore implements TimelineStore {
  /** `pool` must have the schema holding the integrations' tables on its search path. */
  constructor(private readonly pool: pg.Pool) {}

  async append(records: readonly TimelineRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.pool.query({
      ...sql.append,
      values: [
        records.map((record) => record.key),
        records.map((record) => record.callID),
        records.map((record) => record.version),
        records.map((record) => record.at),
        records.map((record) => JSON.stringify(record.facts)),
      ],
    });
  }

  async factsOf(callID: string): Promise<Fact[]> {
    const result = await this.pool.query<{ facts: Fact[] }>({ ...sql.of, values: [callID] });
    return result.rows.flatMap((row) => row.facts);
  }

  async purgeBefore(time: number): Promise<number> {
    const result = await this.pool.query({ ...sql.purge, values: [time] });
    return result.rowCount ?? 0;
  }
}
