// API keys for app backends: shown once at creation, stored only as a SHA-256 hash (the secret
// is 192 random bits, so a slow password hash would add nothing), each with its scopes.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import { migrateModule } from "../sqlite/module-schema.js";

/** read: look; write: act on users, calls and devices; admin: keys and webhooks too. */
export const apiScopes = ["read", "write", "admin"] as const;
export type ApiScope = (typeof apiScopes)[number];

export function isApiScope(value: unknown): value is ApiScope {
  return (apiScopes as readonly unknown[]).includes(value);
}

/** Whether a key with `granted` may do what needs `needed` (each scope includes the ones before). */
export function allows(granted: readonly ApiScope[], needed: ApiScope): boolean {
  const rank = apiScopes.indexOf(needed);
  return granted.some((scope) => apiScopes.indexOf(scope) >= rank);
}

export interface ApiKey {
  id: string;
  name: string;
  scopes: ApiScope[];
  createdAt: number;
  lastUsedAt: number;
}

export interface CreatedApiKey extends ApiKey {
  /** `bk_<id>_<secret>`; shown once, never stored. */
  key: string;
}

export interface ApiKeyStore {
  create(name: string, scopes: readonly ApiScope[], now: number): Promise<CreatedApiKey>;
  list(): Promise<ApiKey[]>;
  /** False if no such key. */
  revoke(id: string): Promise<boolean>;
  /** The key a presented secret belongs to, or undefined; marks it used. */
  verify(presented: string, now: number): Promise<ApiKey | undefined>;
}

const migrations = [
  `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     hash BLOB NOT NULL,
     scopes TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER NOT NULL DEFAULT 0
   );`,
];

const KEY_PATTERN = /^bk_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{32})$/;

/** The id and secret of a presented key, or undefined when it is not shaped like one. */
export function parseKey(presented: string): { id: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(presented);
  return match ? { id: match[1] as string, secret: match[2] as string } : undefined;
}

/** A fresh key: its id, secret and the secret's hash (what is stored), or an error for bad scopes. */
export function newKey(scopes: readonly ApiScope[]): {
  id: string;
  secret: string;
  hash: Buffer;
  scopes: ApiScope[];
} {
  if (scopes.length === 0 || !scopes.every(isApiScope)) {
    throw new Error(`scopes must be some of ${apiScopes.join(", ")}`);
  }
  const secret = randomBytes(24).toString("base64url");
  return {
    id: randomBytes(12).toString("base64url"),
    secret,
    hash: hashOf(secret),
    scopes: [...new Set(scopes)],
  };
}

/** Whether `secret` is the one `hash` was made from (in constant time). */
export function secretMatches(hash: Buffer, secret: string): boolean {
  return timingSafeEqual(hash, hashOf(secret));
}

/** `last_used_at` is written at most once a minute per key, so reads do not turn into writes. */
export function worthMarkingUsed(lastUsedAt: number, now: number): boolean {
  return now - lastUsedAt > 60_000;
}

interface KeyRow {
  id: string;
  name: string;
  hash: Buffer;
  scopes: string;
  created_at: number;
  last_used_at: number;
}

function keyOf(row: KeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as ApiScope[],
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

function hashOf(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

export class SqliteApiKeyStore implements ApiKeyStore {
  private readonly statements;

  constructor(db: Database.Database) {
    migrateModule(db, "api-keys", migrations);
    this.statements = {
      insert: db.prepare<[string, string, Buffer, string, number]>(
        "INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)",
      ),
      list: db.prepare<[], KeyRow>("SELECT * FROM api_keys ORDER BY created_at, id"),
      get: db.prepare<[string], KeyRow>("SELECT * FROM api_keys WHERE id = ?"),
      revoke: db.prepare<[string]>("DELETE FROM api_keys WHERE id = ?"),
      used: db.prepare<[number, string]>("UPDATE api_keys SET last_used_at = ? WHERE id = ?"),
    };
  }

  async create(name: string, scopes: readonly ApiScope[], now: number): Promise<CreatedApiKey> {
    const { id, secret, hash, scopes: unique } = newKey(scopes);
    this.statements.insert.run(id, name, hash, JSON.stringify(unique), now);
    return { id, name, scopes: unique, createdAt: now, lastUsedAt: 0, key: `bk_${id}_${secret}` };
  }

  async list(): Promise<ApiKey[]> {
    return this.statements.list.all().map(keyOf);
  }

  async revoke(id: string): Promise<boolean> {
    return this.statements.revoke.run(id).changes > 0;
  }

  async verify(presented: string, now: number): Promise<ApiKey | undefined> {
    const parsed = parseKey(presented);
    if (!parsed) return undefined;
    const row = this.statements.get.get(parsed.id);
    if (!row || !secretMatches(row.hash, parsed.secret)) return undefined;
    if (worthMarkingUsed(row.last_used_at, now)) this.statements.used.run(now, row.id);
    return keyOf({ ...row, last_used_at: now });
  }
}
