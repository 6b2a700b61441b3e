// Where devices' push registrations live, and the log of every push sent, which tells a later
// cancel/quit/end which devices were pushed the invitation and keeps retried facts from pushing
// twice.
import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { migrateModule } from "../sqlite/module-schema.js";
import type { PushKind, PushMessage, PushRegistration, PushTarget } from "./push-types.js";

export type PushSendStatus = "queued" | "sent" | "failed" | "expired";

export interface PushSend {
  id: number;
  /** Same for every retry of the fact that caused it, so a push is claimed once. */
  dedupeKey: string;
  callID: string;
  userID: string;
  deviceID: string;
  registrationID: string;
  provider: PushTarget["provider"];
  kind: PushKind;
  status: PushSendStatus;
  /** The provider's HTTP status (0 while queued or without an answer). */
  httpStatus: number;
  reason: string;
  queuedAt: number;
  doneAt: number;
  message: PushMessage;
}

export interface PushRegistrationStore {
  /**
   * Adds a registration, replacing the device's earlier one with the same provider and any
   * other user's registration of the same address (the phone changed hands).
   */
  add(userID: string, deviceID: string, target: PushTarget, now: number): Promise<PushRegistration>;
  listOf(userID: string): Promise<PushRegistration[]>;
  get(id: string): Promise<PushRegistration | undefined>;
  /** Removes one registration (only the user's own when `userID` is given); false if none. */
  remove(id: string, userID?: string): Promise<boolean>;
  removeAllOf(userID: string): Promise<number>;
  /**
   * Records that `registration` is to be pushed `message` for `dedupeKey`; false (and nothing
   * recorded) when it already was.
   */
  claimSend(
    dedupeKey: string,
    registration: PushRegistration,
    message: PushMessage,
    now: number,
  ): Promise<PushSend | undefined>;
  finishSend(
    id: number,
    status: Exclude<PushSendStatus, "queued">,
    httpStatus: number,
    reason: string,
    now: number,
  ): Promise<void>;
  /** Invitation pushes of a call (optionally for one member), oldest first. */
  invitesPushed(callID: string, userID?: string): Promise<PushSend[]>;
  /** Every push of a call, oldest first (the call's timeline). */
  sendsOf(callID: string): Promise<PushSend[]>;
  /**
   * Takes over the pushes still queued whose claim is older than `claimedBefore` (their node
   * stopped or died before sending), marking them claimed at `now`; oldest first. Each goes to
   * one caller, however many nodes ask at once.
   */
  reclaimQueued(claimedBefore: number, now: number, limit?: number): Promise<PushSend[]>;
  /** Forgets finished pushes queued before `time` (the calls' retention); returns how many. */
  purgeSendsBefore(time: number): Promise<number>;
}

const migrations = [
  `CREATE TABLE push_registrations (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     device_id TEXT NOT NULL,
     provider TEXT NOT NULL,
     address TEXT NOT NULL,
     target TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (provider, address)
   );
   CREATE UNIQUE INDEX push_registrations_device ON push_registrations(user_id, device_id, provider);
   CREATE TABLE push_sends (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     dedupe_key TEXT NOT NULL,
     call_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     device_id TEXT NOT NULL,
     registration_id TEXT NOT NULL,
     provider TEXT NOT NULL,
     kind TEXT NOT NULL,
     status TEXT NOT NULL,
     http_status INTEGER NOT NULL DEFAULT 0,
     reason TEXT NOT NULL DEFAULT '',
     queued_at INTEGER NOT NULL,
     done_at INTEGER NOT NULL DEFAULT 0,
     message TEXT NOT NULL,
     UNIQUE (dedupe_key, registration_id)
   );
   CREATE INDEX push_sends_call ON push_sends(call_id);
   CREATE INDEX push_sends_queued ON push_sends(id) WHERE status = 'queued';`,
  // Sends queued before this have claimed_at 0: whoever starts next takes them over.
  "ALTER TABLE push_sends ADD COLUMN claimed_at INTEGER NOT NULL DEFAULT 0;",
];

/** What makes two registrations the same device to the provider. */
export function addressOf(target: PushTarget): string {
  return target.provider === "webpush" ? target.endpoint : target.token;
}

interface RegistrationRow {
  id: string;
  user_id: string;
  device_id: string;
  target: string;
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
  message: string;
}

function registrationOf(row: RegistrationRow): PushRegistration {
  return {
    id: row.id,
    userID: row.user_id,
    deviceID: row.device_id,
    target: JSON.parse(row.target) as PushTarget,
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
    message: JSON.parse(row.message) as PushMessage,
  };
}

export class SqlitePushRegistrationStore implements PushRegistrationStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    migrateModule(db, "push", migrations);
    this.statements = {
      removeClashing: db.prepare<[string, string, string, string, string]>(
        `DELETE FROM push_registrations
         WHERE (user_id = ? AND device_id = ? AND provider = ?) OR (provider = ? AND address = ?)`,
      ),
      insert: db.prepare<[string, string, string, string, string, string, number]>(
        `INSERT INTO push_registrations (id, user_id, device_id, provider, address, target, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      listOf: db.prepare<[string], RegistrationRow>(
        "SELECT * FROM push_registrations WHERE user_id = ? ORDER BY created_at, id",
      ),
      get: db.prepare<[string], RegistrationRow>("SELECT * FROM push_registrations WHERE id = ?"),
      remove: db.prepare<[string]>("DELETE FROM push_registrations WHERE id = ?"),
      removeOwn: db.prepare<[string, string]>(
        "DELETE FROM push_registrations WHERE id = ? AND user_id = ?",
      ),
      removeAllOf: db.prepare<[string]>("DELETE FROM push_registrations WHERE user_id = ?"),
      claim: db.prepare<
        [string, string, string, string, string, string, string, number, number, string],
        SendRow
      >(
        `INSERT INTO push_sends (dedupe_key, call_id, user_id, device_id, registration_id,
           provider, kind, status, queued_at, claimed_at, message)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)
         ON CONFLICT (dedupe_key, registration_id) DO NOTHING
         RETURNING *`,
      ),
      finish: db.prepare<[string, number, string, number, number]>(
        "UPDATE push_sends SET status = ?, http_status = ?, reason = ?, done_at = ? WHERE id = ?",
      ),
      invites: db.prepare<[string], SendRow>(
        "SELECT * FROM push_sends WHERE call_id = ? AND kind = 'invite' ORDER BY id",
      ),
      sendsOf: db.prepare<[string], SendRow>(
        "SELECT * FROM push_sends WHERE call_id = ? ORDER BY id",
      ),
      reclaim: db.prepare<[number, number, number], SendRow>(
        `UPDATE push_sends SET claimed_at = ? WHERE id IN (
           SELECT id FROM push_sends WHERE status = 'queued' AND claimed_at < ? ORDER BY id LIMIT ?
         )
         RETURNING *`,
      ),
      purge: db.prepare<[number]>(
        "DELETE FROM push_sends WHERE queued_at < ? AND status != 'queued'",
      ),
    };
  }

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
    this.db.transaction(() => {
      this.statements.removeClashing.run(
        userID,
        deviceID,
        target.provider,
        target.provider,
        addressOf(target),
      );
      this.statements.insert.run(
        registration.id,
        userID,
        deviceID,
        target.provider,
        addressOf(target),
        JSON.stringify(target),
        now,
      );
    })();
    return registration;
  }

  async listOf(userID: string): Promise<PushRegistration[]> {
    return this.statements.listOf.all(userID).map(registrationOf);
  }

  async get(id: string): Promise<PushRegistration | undefined> {
    const row = this.statements.get.get(id);
    return row && registrationOf(row);
  }

  async remove(id: string, userID?: string): Promise<boolean> {
    const result =
      userID === undefined
        ? this.statements.remove.run(id)
        : this.statements.removeOwn.run(id, userID);
    return result.changes > 0;
  }

  async removeAllOf(userID: string): Promise<number> {
    return this.statements.removeAllOf.run(userID).changes;
  }

  async claimSend(
    dedupeKey: string,
    registration: PushRegistration,
    message: PushMessage,
    now: number,
  ): Promise<PushSend | undefined> {
    const row = this.statements.claim.get(
      dedupeKey,
      message.callID,
      registration.userID,
      registration.deviceID,
      registration.id,
      registration.target.provider,
      message.kind,
      now,
      now,
      JSON.stringify(message),
    );
    return row && sendOf(row);
  }

  async finishSend(
    id: number,
    status: Exclude<PushSendStatus, "queued">,
    httpStatus: number,
    reason: string,
    now: number,
  ): Promise<void> {
    this.statements.finish.run(status, httpStatus, reason.slice(0, 500), now, id);
  }

  async invitesPushed(callID: string, userID?: string): Promise<PushSend[]> {
    return this.statements.invites
      .all(callID)
      .filter((row) => userID === undefined || row.user_id === userID)
      .map(sendOf);
  }

  async sendsOf(callID: string): Promise<PushSend[]> {
    return this.statements.sendsOf.all(callID).map(sendOf);
  }

  async reclaimQueued(claimedBefore: number, now: number, limit = -1): Promise<PushSend[]> {
    return this.statements.reclaim
      .all(now, claimedBefore, limit)
      .map(sendOf)
      .sort((a, b) => a.id - b.id);
  }

  async purgeSendsBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
  }
}
