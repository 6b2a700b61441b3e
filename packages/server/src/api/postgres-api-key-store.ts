// API keys in PostgreSQL (cluster mode): a key made through one node works on every node.
import type pg from "pg";
import {
  type ApiKey,
  type ApiKeyStore,
  type ApiScope,
  type CreatedApiKey,
  newKey,
  parseKey,
  secretMatches,
  worthMarkingUsed,
} from "./api-key-store.js";

interface KeyRow {
  id: string;
  name: string;
  hash: Buffer;
  scopes: ApiScope[];
  created_at: number;
  last_used_at: number;
}

function keyOf(row: KeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

const sql = {
  insert: {
    name: "beckon_keys_insert",
    text: `INSERT INTO api_keys (id, name, hash, scopes, created_at)
           VALUES ($1, $2, $3, $4::jsonb, $5)`,
  },
  list: { name: "beckon_keys_list", text: "SELECT * FROM api_keys ORDER BY created_at, id" },
  get: { name: "beckon_keys_get", text: "SELECT * FROM api_keys WHERE id = $1" },
  revoke: { name: "beckon_keys_revoke", text: "DELETE FROM api_keys WHERE id = $1" },
  used: {
    name: "beckon_keys_used",
    text: "UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $1) WHERE id = $2",
  },
} as const;

export class PostgresApiKeyStore implements ApiKeyStore {
  /** `pool` must have the schema holding the integrations' tables on its search path. */
  constructor(private readonly pool: pg.Pool) {}

  async create(name: string, scopes: readonly ApiScope[], now: number): Promise<CreatedApiKey> {
    const { id, secret, hash, scopes: unique } = newKey(scopes);
    await this.pool.query({ ...sql.insert, values: [id, name, hash, JSON.stringify(unique), now] });
    return { id, name, scopes: unique, createdAt: now, lastUsedAt: 0, key: `bk_${id}_${secret}` };
  }

  async list(): Promise<ApiKey[]> {
    const result = await this.pool.query<KeyRow>(sql.list);
    return result.rows.map(keyOf);
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.pool.query({ ...sql.revoke, values: [id] });
    return (result.rowCount ?? 0) > 0;
  }

  async verify(presented: string, now: number): Promise<ApiKey | undefined> {
    const parsed = parseKey(presented);
    if (!parsed) return undefined;
    const result = await this.pool.query<KeyRow>({ ...sql.get, values: [parsed.id] });
    const row = result.rows[0];
    if (!row || !secretMatches(row.hash, parsed.secret)) return undefined;
    if (worthMarkingUsed(row.last_used_at, now)) {
      await this.pool.query({ ...sql.used, values: [now, row.id] });
    }
    return keyOf({ ...row, last_used_at: now });
  }
}
