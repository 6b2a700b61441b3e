// `beckon apikey create|list|revoke`: the CLI's logic, kept apart from argument parsing so the
// CLI stays a thin shell and this is testable in-process.
import { join } from "node:path";
import {
  type ApiKeyStore,
  apiScopes,
  isApiScope,
  PostgresApiKeyStore,
  SqliteApiKeyStore,
} from "./api/api-key-store.js";
import { isPostgresUrl, openStore } from "./node-services.js";
import { openSqlite } from "./sqlite/module-schema.js";
import { PostgresCallStore } from "./store/postgres-call-store.js";

export interface ApikeyCommandResult {
  /** 0 on success, 2 for a usage error. */
  exitCode: number;
  /** What to print on stdout (or stderr when exitCode is not 0). */
  output: string;
}

const usage = `usage:
  beckon apikey create <name> [--scopes read,write,admin]   (default: read,write)
  beckon apikey list
  beckon apikey revoke <id>`;

/** The key store the server on `location` uses, and how to let go of it. */
async function openKeys(location: string): Promise<{ keys: ApiKeyStore; close(): Promise<void> }> {
  if (isPostgresUrl(location)) {
    // The call store's migrations make the key table; its pool is on the schema.
    const store = await openStore(location);
    if (!(store instanceof PostgresCallStore)) throw new Error("not a PostgreSQL store");
    return { keys: new PostgresApiKeyStore(store.pool), close: () => store.close() };
  }
  const db = openSqlite(location);
  return {
    keys: new SqliteApiKeyStore(db),
    async close() {
      db.close();
    },
  };
}

/**
 * Runs one `apikey` subcommand against the database the server uses: `store` when it is a
 * `postgres://` URL (a cluster's), else the SQLite file `database` or `<dataDir>/beckon.db`.
 */
export async function runApikeyCommand(
  args: readonly string[],
  options: { dataDir: string; database?: string; store?: string; now?: number },
): Promise<ApikeyCommandResult> {
  const [action, ...rest] = args;
  if (action !== "create" && action !== "list" && action !== "revoke") {
    return { exitCode: 2, output: usage };
  }
  const location =
    options.store !== undefined && isPostgresUrl(options.store)
      ? options.store
      : (options.database ?? join(options.dataDir, "beckon.db"));
  const { keys, close } = await openKeys(location);
  try {
    const now = options.now ?? Date.now();
    if (action === "list") {
      const list = await keys.list();
      if (list.length === 0) return { exitCode: 0, output: "no API keys" };
      const lines = list.map(
        (key) =>
          `${key.id}  ${key.name}  ${key.scopes.join(",")}  created ${new Date(key.createdAt).toISOString()}  ${
            key.lastUsedAt ? `last used ${new Date(key.lastUsedAt).toISOString()}` : "never used"
          }`,
      );
      return { exitCode: 0, output: lines.join("\n") };
    }
    if (action === "revoke") {
      const [id] = rest;
      if (!id || rest.length !== 1) return { exitCode: 2, output: usage };
      return (await keys.revoke(id))
        ? { exitCode: 0, output: `revoked ${id}` }
        : { exitCode: 1, output: `no API key ${id}` };
    }
    let name: string | undefined;
    let scopes: string[] = ["read", "write"];
    for (let index = 0; index < rest.length; index++) {
      const arg = rest[index] as string;
      if (arg === "--scopes") {
        scopes = (rest[++index] ?? "").split(",").filter(Boolean);
      } else if (arg.startsWith("--scopes=")) {
        scopes = arg.slice("--scopes=".length).split(",").filter(Boolean);
      } else if (name === undefined && !arg.startsWith("-")) {
        name = arg;
      } else {
        return { exitCode: 2, output: usage };
      }
    }
    if (!name) return { exitCode: 2, output: usage };
    const bad = scopes.filter((scope) => !isApiScope(scope));
    if (scopes.length === 0 || bad.length > 0) {
      return {
        exitCode: 2,
        output: `unknown scope ${bad.join(", ") || "(none given)"}; use some of ${apiScopes.join(", ")}`,
      };
    }
    const created = await keys.create(name, scopes.filter(isApiScope), now);
    return {
      exitCode: 0,
      output: `${created.key}\n(id ${created.id}, scopes ${created.scopes.join(",")}; the key is shown only now)`,
    };
  } finally {
    await close();
  }
}
