// API keys for app backends: shown once at creation, stored only as a SHA-256 hash (the secret
// is 192 random bits, so a slow password hash would add nothing), each with its scopes. One
// implementation over SQLite (one node) and PostgreSQL (a cluster).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import type pg from "pg";
import {
  PostgresDatabase,
  type SqlDatabase,
  SqliteDatabase,
  type Statement,
} from "../sql/sql-database.js";
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

function hashOf(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

/** A row as either driver reads it: scopes are JSON text in SQLite, jsonb in PostgreSQL. */
interface KeyRow {
  id: string;
  name: string;
  hash: Buffer;
  scopes: string | ApiScope[];
  created_at: number;
  last_used_at: number;
}

function keyOf(row: KeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: typeof row.scopes === "string" ? (JSON.parse(row.scopes) as ApiScope[]) : row.scopes,
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
  };
}

const sql = {
  insert: {
    name: "beckon_keys_insert",
    text: "INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
    postgres: `INSERT INTO api_keys (id, name, hash, scopes, created_at)
               VALUES ($1, $2, $3, $4::jsonb, $5)`,
  },
  list: { name: "beckon_keys_list", text: "SELECT * FROM api_keys ORDER BY created_at, id" },
  get: { name: "beckon_keys_get", text: "SELECT * FROM api_keys WHERE id = $1" },
  revoke: { name: "beckon_keys_revoke", text: "DELETE FROM api_keys WHERE id = $1" },
  // Never backwards: two nodes may mark the same key.
  used: {
    name: "beckon_keys_used",
    text: "UPDATE api_keys SET last_used_at = MAX(last_used_at, $1) WHERE id = $2",
    postgres: "UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $1) WHERE id = $2",
  },
} satisfies Record<string, Statement>;

/** API keys over either database: the one implementation. */
export class SqlApiKeyStore implements ApiKeyStore {
  constructor(private readonly sql: SqlDatabase) {}

  async create(name: string, scopes: readonly ApiScope[], now: number): Promise<CreatedApiKey> {
    const { id, secret, hash, scopes: unique } = newKey(scopes);
    await this.sql.run(sql.insert, [id, name, hash, JSON.stringify(unique), now]);
    return { id, name, scopes: unique, createdAt: now, lastUsedAt: 0, key: `bk_${id}_${secret}` };
  }

  async list(): Promise<ApiKey[]> {
    return (await this.sql.all<KeyRow>(sql.list)).map(keyOf);
  }

  async revoke(id: string): Promise<boolean> {
    return (await this.sql.run(sql.revoke, [id])) > 0;
  }

  async verify(presented: string, now: number): Promise<ApiKey | undefined> {
    const parsed = parseKey(presented);
    if (!parsed) return undefined;
    const [row] = await this.sql.all<KeyRow>(sql.get, [parsed.id]);
    if (!row || !secretMatches(row.hash, parsed.secret)) return undefined;
    if (worthMarkingUsed(Number(row.last_used_at), now))
      await this.sql.run(sql.used, [now, row.id]);
    return keyOf({ ...row, last_used_at: now });
  }
}

/** API keys in a SQLite file (one node); makes its table. */
export class SqliteApiKeyStore extends SqlApiKeyStore {
  constructor(db: Database.Database) {
    migrateModule(db, "api-keys", migrations);
    super(new SqliteDatabase(db));
  }
}

/**
 * API keys in PostgreSQL (cluster mode): a key made through one node works on every node. The
 * call store's migrations make the table; `pool` has its schema on the search path.
 */
export class PostgresApiKeyStore extends SqlApiKeyStore {
  constructor(pool: pg.Pool) {
    super(new PostgresDatabase(pool));
  }
}
