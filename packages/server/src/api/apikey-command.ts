// `beckon apikey create|list|revoke`: the CLI's logic, kept apart from argument parsing so the
// CLI stays a thin shell and this is testable in-process.
import { join } from "node:path";
import { openSqlite } from "../sqlite/module-schema.js";
import { apiScopes, isApiScope, SqliteApiKeyStore } from "./api-key-store.js";

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

/**
 * Runs one `apikey` subcommand against the SQLite database the server uses (`<dataDir>/beckon.db`
 * unless `database` names another file).
 */
export async function runApikeyCommand(
  args: readonly string[],
  options: { dataDir: string; database?: string; now?: number },
): Promise<ApikeyCommandResult> {
  const [action, ...rest] = args;
  if (action !== "create" && action !== "list" && action !== "revoke") {
    return { exitCode: 2, output: usage };
  }
  const db = openSqlite(options.database ?? join(options.dataDir, "beckon.db"));
  try {
    const keys = new SqliteApiKeyStore(db);
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
    db.close();
  }
}
