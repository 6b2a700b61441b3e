// Push registrations and the log of pushes in PostgreSQL (cluster mode): a device registered
// through one node is pushed by whichever node relays the fact, and a push is claimed once per
// fact and registration across all nodes (the unique key decides).
import { randomBytes } from "node:crypto";
import type pg from "pg";
import {
  addressOf,
  type PushRegistrationStore,
  type PushSend,
  type PushSendStatus,
} from "./push-registration-store.js";
import type { PushKind, PushMessage, PushRegistration, PushTarget } from "./push-types.js";

interface RegistrationRow {
  id: string;
  user_id: string;
  device_id: string;
  target: PushTarget;
  created_at: number;
}

interface SendRow {
  id: number;
  dedupe_key: string;
  call_id: string;
  user_id: string;
  device_id: string;
  registration_id: string;
  provider: string;
  kind: string;
  status: string;
  http_status: number;
  reason: string;
  queued_at: number;
  done_at: number;
  message: PushMessage;
}

function registrationOf(row: RegistrationRow): PushRegistration {
  return {
    id: row.id,
    userID: row.user_id,
    deviceID: row.device_id,
    target: row.target,
    createdAt: row.created_at,
  };
}

function sendOf(row: SendRow): PushSend {
  return {
    id: row.id,
    dedupeKey: row.dedupe_key,
    callID: row.call_id,
    userID: row.user_id,
    deviceID: row.device_id,
    registrationID: row.registration_id,
    provider: row.provider as PushTarget["provider"],
    kind: row.kind as PushKind,
    status: row.status as PushSendStatus,
    httpStatus: row.http_status,
    reason: row.reason,
    queuedAt: row.queued_at,
    doneAt: row.done_at,
    message: row.message,
  };
}

const uniqueViolation = "23505";

const sql = {
  removeClashing: {
    name: "beckon_push_remove_clashing",
    text: `DELETE FROM push_registrations
           WHERE (user_id = $1 AND device_id = $2 AND provider = $3) OR (provider = $3 AND address = $4)`,
  },
  insert: {
    name: "beckon_push_insert",
    text: `INSERT INTO push_registrations (id, user_id, device_id, provider, address, target, created_at)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
  },
  listOf: {
    name: "beckon_push_list_of",
    text: "SELECT * FROM push_registrations WHERE user_id = $1 ORDER BY created_at, id",
  },
  get: { name: "beckon_push_get", text: "SELECT * FROM push_registrations WHERE id = $1" },
  remove: { name: "beckon_push_remove", text: "DELETE FROM push_registrations WHERE id = $1" },
  removeOwn: {
    name: "beckon_push_remove_own",
    text: "DELETE FROM push_registrations WHERE id = $1 AND user_id = $2",
  },
  removeAllOf: {
    name: "beckon_push_remove_all_of",
    text: "DELETE FROM push_registrations WHERE user_id = $1",
  },
  claim: {
    name: "beckon_push_claim",
    text: `INSERT INTO push_sends (dedupe_key, call_id, user_id, device_id, registration_id,
             provider, kind, status, queued_at, claimed_at, message)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8, $9::jsonb)
           ON CONFLICT (dedupe_key, registration_id) DO NOTHING
           RETURNING *`,
  },
  finish: {
    name: "beckon_push_finish",
    text: `UPDATE push_sends SET status = $1, http_status = $2, reason = $3, done_at = $4
           WHERE id = $5`,
  },
  invites: {
    name: "beckon_push_invites",
    text: `SELECT * FROM push_sends WHERE call_id = $1 AND kind = 'invite'
             AND ($2::text IS NULL OR user_id = $2) ORDER BY id`,
  },
  sendsOf: {
    name: "beckon_push_sends_of",
    text: "SELECT * FROM push_sends WHERE call_id = $1 ORDER BY id",
  },
  reclaim: {
    name: "beckon_push_reclaim",
    // SKIP LOCKED: nodes sweeping at the same moment split the orphans instead of sharing them.
    text: `WITH stale AS (
             SELECT id FROM push_sends WHERE status = 'queued' AND claimed_at < $1
             ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
           )
           UPDATE push_sends s SET claimed_at = $2 FROM stale WHERE s.id = stale.id
           RETURNING s.*`,
  },
  purge: {
    name: "beckon_push_purge",
    text: "DELETE FROM push_sends WHERE queued_at < $1 AND status != 'queued'",
  },
} as const;

export class PostgresPushRegistrationStore implements PushRegistrationStore {
  /** `pool` must have the schema holding the integrations' tables on its search path. */
  constructor(private readonly pool: pg.Pool) {}

  async add(
    userID: string,
    deviceID: string,
    target: PushTarget,
    now: number,
  ): Promise<PushRegistration> {
    const registration: PushRegistration = {
      id: `preg_${randomBytes(12).toString("base64url")}`,
      userID,
      deviceID,
      target,
      createdAt: now,
    };
    const address = addressOf(target);
    // Two nodes registering the same address at once: the loser's insert breaks the unique key
    // and it runs again, replacing the winner's row (the later registration wins, as on one node).
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query("BEGIN");
        await client.query({
          ...sql.removeClashing,
          values: [userID, deviceID, target.provider, address],
        });
        await client.query({
          ...sql.insert,
          values: [
            registration.id,
            userID,
            deviceID,
            target.provider,
            address,
            JSON.stringify(target),
            now,
          ],
        });
        await client.query("COMMIT");
        return registration;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        const code = (error as { code?: unknown }).code;
        if (code !== uniqueViolation || attempt >= 3) throw error;
      } finally {
        client.release();
      }
    }
  }

  async listOf(userID: string): Promise<PushRegistration[]> {
    const result = await this.pool.query<RegistrationRow>({ ...sql.listOf, values: [userID] });
    return result.rows.map(registrationOf);
  }

  async get(id: string): Promise<PushRegistration | undefined> {
    const result = await this.pool.query<RegistrationRow>({ ...sql.get, values: [id] });
    const row = result.rows[0];
    return row && registrationOf(row);
  }

  async remove(id: string, userID?: string): Promise<boolean> {
    const result =
      userID === undefined
        ? await this.pool.query({ ...sql.remove, values: [id] })
        : await this.pool.query({ ...sql.removeOwn, values: [id, userID] });
    return (result.rowCount ?? 0) > 0;
  }

  async removeAllOf(userID: string): Promise<number> {
    const result = await this.pool.query({ ...sql.removeAllOf, values: [userID] });
    return result.rowCount ?? 0;
  }

  async claimSend(
    dedupeKey: string,
    registration: PushRegistration,
    message: PushMessage,
    now: number,
  ): Promise<PushSend | undefined> {
    const result = await this.pool.query<SendRow>({
      ...sql.claim,
      values: [
        dedupeKey,
        message.callID,
        registration.userID,
        registration.deviceID,
        registration.id,
        registration.target.provider,
        message.kind,
        now,
        JSON.stringify(message),
      ],
    });
    const row = result.rows[0];
    return row && sendOf(row);
  }

  async finishSend(
    id: number,
    status: Exclude<PushSendStatus, "queued">,
    httpStatus: number,
    reason: string,
    now: number,
  ): Promise<void> {
    await this.pool.query({
      ...sql.finish,
      values: [status, httpStatus, reason.slice(0, 500), now, id],
    });
  }

  async invitesPushed(callID: string, userID?: string): Promise<PushSend[]> {
    const result = await this.pool.query<SendRow>({
      ...sql.invites,
      values: [callID, userID ?? null],
    });
    return result.rows.map(sendOf);
  }

  async sendsOf(callID: string): Promise<PushSend[]> {
    const result = await this.pool.query<SendRow>({ ...sql.sendsOf, values: [callID] });
    return result.rows.map(sendOf);
  }

  async reclaimQueued(claimedBefore: number, now: number, limit?: number): Promise<PushSend[]> {
    const result = await this.pool.query<SendRow>({
      ...sql.reclaim,
      values: [claimedBefore, now, limit ?? null],
    });
    return result.rows.map(sendOf).sort((a, b) => a.id - b.id);
  }

  async purgeSendsBefore(time: number): Promise<number> {
    const result = await this.pool.query({ ...sql.purge, values: [time] });
    return result.rowCount ?? 0;
  }
}
