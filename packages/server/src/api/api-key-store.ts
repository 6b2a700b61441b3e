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
    if (scopes.length === 0 || !scopes.every(isApiScope)) {
      throw new Error(`scopes must be some of ${apiScopes.join(", ")}`);
    }
    const id = randomBytes(12).toString("base64url");
    const secret = randomBytes(24).toString("base64url");
    const unique = [...new Set(scopes)];
    this.statements.insert.run(id, name, hashOf(secret), JSON.stringify(unique), now);
    return { id, name, scopes: unique, createdAt: now, lastUsedAt: 0, key: `bk_${id}_${secret}` };
  }

  async list(): Promise<ApiKey[]> {
    return this.statements.list.all().map(keyOf);
  }

  async revoke(id: string): Promise<boolean> {
    return this.statements.revoke.run(id).changes > 0;
  }

  async verify(presented: string, now: number): Promise<ApiKey | undefined> {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return undefined;
    const row = this.statements.get.get(match[1] as string);
    if (!row || !timingSafeEqual(row.hash, hashOf(match[2] as string))) return undefined;
    // Written at most once a minute per key, so reads do not turn into writes.
    if (now - row.last_used_at > 60_000) this.statements.used.run(now, row.id);
    return keyOf({ ...row, last_used_at: now });
  }
}
