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
const PATH_KEYS = [
  "data",
  "secretFile",
  "push.fcm.serviceAccountFile",
  "push.apns.keyFile",
  "push.http.secretFile",
  "zegoServerSecretFile",
];

/** Apple's key and team IDs are ten upper-case letters and digits. */
const appleID = (what: string) =>
  z
    .string()
    .regex(/^[A-Z0-9]{10}$/, `must be the 10-character ${what} (upper-case letters and digits)`);

/**
 * Offline push providers (docs/push.md). Files are read at start; the HTTP provider's signing
 * secret, like the token secret, comes from BECKON_PUSH_HTTP_SECRET or a file, never a flag.
 */
const pushSchema = z
  .object({
    webPush: z
      .object({
        enabled: z.boolean().optional().meta({
          description:
            "Web Push to browsers (VAPID keys in <data>/vapid.json); unset: on in development mode, and in production when a subject is set",
        }),
        subject: z
          .string()
          .regex(
            /^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/,
            "must be a mailto: address or an https:// URL",
          )
          .optional()
          .meta({
            description:
              "the contact push services may use (mailto: or https:); development mode has a placeholder",
          }),
      })
      .strict()
      .prefault({}),
    fcm: z
      .object({
        serviceAccountFile: z.string().min(1).optional().meta({
          description: "a Firebase service-account key file (JSON): turns FCM HTTP v1 on",
        }),
      })
      .strict()
      .prefault({}),
    apns: z
      .object({
        keyFile: z
          .string()
          .min(1)
          .optional()
          .meta({ description: "the APNs signing key (.p8): turns APNs on, with the three below" }),
        keyID: appleID("key ID").optional().meta({ description: "the signing key's ID" }),
        teamID: appleID("team ID").optional().meta({ description: "the developer team's ID" }),
        bundleID: z
          .string()
          .regex(/^[A-Za-z0-9.-]+$/, "must be a bundle ID such as com.example.app")
          .optional()
          .meta({ description: "the app's bundle ID (the topic; VoIP pushes go to <id>.voip)" }),
        environment: z.enum(["production", "sandbox"]).default("production").meta({
          description: "sandbox for app builds with the development aps-environment entitlement",
        }),
      })
      .strict()
      .prefault({})
      .superRefine((apns, context) => {
        const required = ["keyFile", "keyID", "teamID", "bundleID"] as const;
        const given = required.filter((key) => apns[key] !== undefined);
        if (given.length === 0) return;
        for (const key of required) {
          if (apns[key] === undefined) {
            context.addIssue({
              code: "custom",
              path: [key],
              message: `is needed with push.apns.${given[0]} (APNs needs keyFile, keyID, teamID and bundleID)`,
            });
          }
        }
      }),
    http: z
      .object({
        url: z
          .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
          .optional()
          .meta({
            description: "your push gateway: each push is a signed POST here (docs/push.md)",
          }),
        secretFile: z.string().min(1).optional().meta({
          description:
            "the gateway's signing secret (whsec_…) from this file, instead of BECKON_PUSH_HTTP_SECRET",
        }),
      })
      .strict()
      .prefault({})
      .superRefine((http, context) => {
        if (http.secretFile !== undefined && http.url === undefined) {
          context.addIssue({
            code: "custom",
            path: ["url"],
            message: "is needed with push.http.secretFile",
          });
        }
      }),
  })
  .strict()
  .prefault({});

/**
 * Extra token keys as `{kid: file}`: a file holds a PEM public key or an HMAC secret. A flag or
 * variable gives them as `kid=file,kid=file`.
 */
const tokenKeysSchema = z
  .preprocess(
    (value) =>
      typeof value === "string"
        ? Object.fromEntries(
            value
              .split(",")
              .filter((pair) => pair.trim() !== "")
              .map((pair) => {
                const at = pair.indexOf("=");
                return at < 0
                  ? [pair.trim(), ""]
                  : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
              }),
          )
        : value,
    z.record(
      z
        .string()
        .regex(/^[\x21-\x7e]{1,128}$/, "a kid must be 1–128 printable characters without spaces"),
      z.string().regex(/./, "must be kid=file: the file of the key"),
    ),
  )
  .optional()
  .meta({
    description:
      "{kid: file} (flag kid=file,…), each a PEM public key or an HMAC secret (docs/tokens.md)",
  });

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
  push: pushSchema,
  tokenKeys: tokenKeysSchema,
  zegoAppID: z.number().int().min(1).max(4_294_967_295).optional().meta({
    description:
      "the app's ZEGO appID: its token04 kit tokens log in too (with BECKON_ZEGO_SERVER_SECRET)",
  }),
  zegoServerSecretFile: z.string().min(1).optional().meta({
    description:
      "read the ZEGO server secret from this file (instead of BECKON_ZEGO_SERVER_SECRET)",
  }),
});

/**
 * Everything a config file (and so the flags and variables) may set: the server's options but
 * those the CLI sets itself (they are marked `cli: false` in the schema).
 */
export const startOptionsSchema = serverOptionsSchema
  .omit({
    secret: true,
    store: true,
    redis: true,
    devTokens: true,
    staticDir: true,
    consoleDir: true,
    push: true,
    tokenKeys: true,
    zego: true,
  })
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

function isEmptyFile(path: string): boolean {
  try {
    return readFileSync(path, "utf8").trim() === "";
  } catch {
    return false;
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
    const value = getPath(file, key);
    if (typeof value === "string") setPath(file, key, resolve(dirname(path), value));
  }
  const tokenKeys = file.tokenKeys;
  if (typeof tokenKeys === "object" && tokenKeys !== null && !Array.isArray(tokenKeys)) {
    file.tokenKeys = Object.fromEntries(
      Object.entries(tokenKeys).map(([kid, value]) => [
        kid,
        typeof value === "string" ? resolve(dirname(path), value) : value,
      ]),
    );
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
    // allowNegative: a boolean whose unset value depends on the mode can be turned off
    // (--no-push-web-push-enabled).
    parsed = parseArgs({
      args: [...argv],
      options: flagOptions,
      allowPositionals: true,
      allowNegative: true,
    });
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

  // `beckon genconfig > beckon.config.json`: the shell creates the file empty before genconfig
  // starts, so an empty file is genconfig's own output on its way, not a config to read.
  if (configFile && parsed.positionals[0] === "genconfig" && isEmptyFile(configFile)) {
    configFile = undefined;
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

/**
 * The subset of start options `createServer` takes (the CLI adds secret, store, devTokens and
 * the push providers it builds from `push`).
 */
export function serverOptionsOf(options: StartOptions): Omit<ServerOptions, "secret"> {
  const {
    data: _data,
    production: _production,
    secretFile: _secretFile,
    store: _store,
    push: _push,
    tokenKeys: _tokenKeys,
    zegoAppID: _zegoAppID,
    zegoServerSecretFile: _zegoServerSecretFile,
    redis,
    ...server
  } = options;
  return redis === undefined ? server : { ...server, redis };
}
