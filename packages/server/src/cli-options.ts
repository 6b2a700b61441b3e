// How `beckon` turns flags, BECKON_* variables and a config file into validated options:
// a flag beats a variable, a variable beats the config file, the file beats the defaults.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  describeOptions,
  type OptionDescription,
  optionIssues,
  type ServerOptions,
  serverOptionsSchema,
} from "./server-options.js";

export const CONFIG_FILE_NAME = "beckon.config.json";

/** Options that name a file or folder: in a config file, relative to that file. */
const PATH_KEYS = new Set(["data", "secretFile"]);

/** Options of the CLI itself, beside the ones it hands to `createServer`. */
export const cliOnlySchema = z.object({
  data: z
    .string()
    .min(1)
    .default("./data")
    .meta({ description: "folder for beckon.db (SQLite) and the development secret" }),
  production: z.boolean().default(false).meta({
    description:
      "production mode: no /dev/token, a secret is required (NODE_ENV=production does the same)",
  }),
  secretFile: z.string().min(1).optional().meta({
    description: "read the token-signing secret from this file (instead of BECKON_SECRET)",
  }),
  store: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL (SQLite lives in --data)")
    .optional()
    .meta({
      description:
        "postgres://…[?schema=name] for cluster mode (docs/cluster.md); default: SQLite in <data>/beckon.db",
    }),
  redis: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .optional()
    .meta({ description: "redis://…[?prefix=name] for cluster mode (needs --store postgres://…)" }),
});

/**
 * Everything a config file (and so the flags and variables) may set: the server's options but
 * those the CLI sets itself (they are marked `cli: false` in the schema).
 */
export const startOptionsSchema = serverOptionsSchema
  .omit({ secret: true, store: true, redis: true, devTokens: true, staticDir: true })
  .extend({ port: serverOptionsSchema.shape.port.unwrap().default(4000) })
  .extend(cliOnlySchema.shape)
  .strict();

export type StartOptions = z.output<typeof startOptionsSchema>;

/** Every option the CLI reads, one row each, for help, parsing and docs. */
export function cliOptionRows(): OptionDescription[] {
  const server = describeOptions().filter((row) => row.cli);
  return [...describeOptions(cliOnlySchema), ...server];
}

/** A mistake in what the user gave; the CLI prints it and exits with 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface ResolvedCli {
  command: string | undefined;
  positionals: string[];
  options: StartOptions;
  /** Where each option set by the user came from (`--port`, `BECKON_PORT`, the file's path). */
  sources: Map<string, string>;
  configFile: string | undefined;
  help: boolean;
  version: boolean;
  /** `--ttl` of `beckon token`. */
  ttl: string | undefined;
}

type Nested = Record<string, unknown>;

function setPath(target: Nested, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node[part] = typeof next === "object" && next !== null ? next : {};
    node = node[part] as Nested;
  }
  node[parts.at(-1) as string] = value;
}

function getPath(source: Nested, key: string): unknown {
  let node: unknown = source;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Nested)[part];
  }
  return node;
}

/** A flag's or variable's text as the option's type; a clear error when it is not one. */
function fromText(row: OptionDescription, text: string, source: string): unknown {
  switch (row.type) {
    case "integer":
      if (!/^-?\d+$/.test(text.trim())) {
        throw new UsageError(`${source} must be an integer (got "${text}")`);
      }
      return Number(text);
    case "number": {
      const value = Number(text);
      if (text.trim() === "" || !Number.isFinite(value)) {
        throw new UsageError(`${source} must be a number (got "${text}")`);
      }
      return value;
    }
    case "boolean":
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off|)$/i.test(text)) return false;
      throw new UsageError(`${source} must be true or false (got "${text}")`);
    default:
      return text;
  }
}

function readConfigFile(path: string): Nested {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`the config file ${path} must hold one JSON object`);
  }
  const file = { ...(parsed as Nested) };
  // A "$schema" key lets editors help; it is not an option.
  delete file.$schema;
  if ("secret" in file) {
    throw new UsageError(
      `the config file ${path} must not hold the secret: set BECKON_SECRET or secretFile instead`,
    );
  }
  // Paths in a config file are relative to the file, as in tsconfig.json.
  for (const key of PATH_KEYS) {
    if (typeof file[key] === "string") file[key] = resolve(dirname(path), file[key] as string);
  }
  return file;
}

const commonFlags = {
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
  ttl: { type: "string" },
} as const;

/**
 * Reads argv, the environment and the config file into validated start options. Throws a
 * UsageError that names the flag, variable or file of every wrong value.
 */
export function resolveCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): ResolvedCli {
  const rows = cliOptionRows();
  const flagOptions: Record<string, { type: "string" | "boolean"; short?: string }> = {
    ...commonFlags,
  };
  for (const row of rows) {
    flagOptions[row.flag.slice(2)] = { type: row.type === "boolean" ? "boolean" : "string" };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: flagOptions, allowPositionals: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional.*$/s, "");
    throw new UsageError(message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;

  const configFlag = values.config as string | undefined;
  const configFromEnv = env.BECKON_CONFIG || undefined;
  const explicitConfig = configFlag ?? configFromEnv;
  let configFile: string | undefined;
  if (explicitConfig !== undefined) {
    configFile = resolve(cwd, explicitConfig);
    if (!existsSync(configFile)) {
      throw new UsageError(
        `the config file ${configFile} (from ${configFlag !== undefined ? "--config" : "BECKON_CONFIG"}) does not exist`,
      );
    }
  } else if (existsSync(resolve(cwd, CONFIG_FILE_NAME))) {
    configFile = resolve(cwd, CONFIG_FILE_NAME);
  }

  const merged: Nested = {};
  const sources = new Map<string, string>();
  if (configFile) {
    const file = readConfigFile(configFile);
    Object.assign(merged, file);
    for (const row of rows) {
      if (getPath(file, row.key) !== undefined) sources.set(row.key, configFile);
    }
    // Unknown keys are reported by the schema below, under the file's name.
    for (const key of Object.keys(file)) {
      if (!sources.has(key) && !rows.some((row) => row.key.startsWith(`${key}.`))) {
        sources.set(key, configFile);
      }
    }
  }
  for (const row of rows) {
    const text = env[row.env];
    if (text === undefined || text === "") continue;
    const value = fromText(row, text, row.env);
    setPath(merged, row.key, value);
    sources.set(row.key, row.env);
  }
  if (merged.production === undefined && env.NODE_ENV === "production") {
    merged.production = true;
    sources.set("production", "NODE_ENV=production");
  }
  for (const row of rows) {
    const flag = values[row.flag.slice(2)];
    if (flag === undefined) continue;
    const value = typeof flag === "boolean" ? flag : fromText(row, flag, row.flag);
    setPath(merged, row.key, value);
    sources.set(row.key, row.flag);
  }

  const result = startOptionsSchema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    const lines = optionIssues(result.error).map((issue) => {
      const key = issue.path;
      const row = rows.find((r) => r.key === key);
      const source = sources.get(key) ?? sources.get(key.split(".")[0] ?? "") ?? configFile;
      const name = row ? `${key} (${row.flag} / ${row.env})` : key || "options";
      return `  - ${name}${source ? ` from ${source}` : ""}: ${issue.message}`;
    });
    throw new UsageError(`invalid configuration\n${lines.join("\n")}`);
  }
  return {
    command: parsed.positionals[0],
    positionals: parsed.positionals.slice(1),
    options: result.data,
    sources,
    configFile,
    help: values.help === true,
    version: values.version === true,
    ttl: values.ttl as string | undefined,
  };
}

/** The subset of start options `createServer` takes (the CLI adds secret, store, devTokens). */
export function serverOptionsOf(options: StartOptions): Omit<ServerOptions, "secret"> {
  const {
    data: _data,
    production: _production,
    secretFile: _secretFile,
    store: _store,
    redis,
    ...server
  } = options;
  return redis === undefined ? server : { ...server, redis };
}
