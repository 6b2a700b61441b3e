#!/usr/bin/env node
// The `beckon` command: start a node, write or check a config file, mint a token, print help.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isValidUserID } from "@beckon/protocol";
import Database from "better-sqlite3";
import { signToken } from "./auth-tokens.js";
import { runApikeyCommand } from "./cli-apikey.js";
import {
  CONFIG_FILE_NAME,
  cliOptionRows,
  type ResolvedCli,
  resolveCli,
  type StartOptions,
  serverOptionsOf,
  UsageError,
} from "./cli-options.js";
import { cliPush } from "./cli-push.js";
import { cliTokens } from "./cli-tokens.js";
import { createServer } from "./create-server.js";
import { installProcessGuards } from "./process-guards.js";
import {
  InvalidOptionsError,
  MIN_SECRET_LENGTH,
  type OptionDescription,
} from "./server-options.js";

function optionLine(row: OptionDescription): string {
  const value =
    row.type === "boolean"
      ? ""
      : row.type === "enum"
        ? ` <${row.choices?.join("|")}>`
        : row.type === "string"
          ? ` <${row.key === "host" ? "address" : /(^data|File)$/.test(row.key) ? "path" : "value"}>`
          : " <n>";
  const range =
    row.min !== undefined || row.max !== undefined
      ? `, ${row.min ?? ""}–${row.max ?? ""}`.replace(/^, 0–$/, ", > 0")
      : "";
  const shown = row.cliDefault === undefined ? "" : `default ${row.cliDefault}${range}`;
  return `  ${row.flag}${value}   [${row.env}]   ${shown}\n      ${row.description}`;
}

function helpText(): string {
  return `beckon — self-hostable call-invitation signaling

Usage:
  beckon start [options]
      Start a single node: SQLite under --data, the demo page (when built) at http://HOST:PORT/.
      Development mode (the default) listens on 127.0.0.1 and serves POST /dev/token, which
      mints a token for anyone. --production turns that off and requires a secret.
  beckon token <userID> [--ttl seconds] [--data ./data]
      Print a token for <userID>, signed with the secret 'beckon start' uses (stderr says which).
  beckon genconfig [options]
      Print a ${CONFIG_FILE_NAME} with every option at the value the options given resolve to.
  beckon checkconfig [options]
      Check flags, BECKON_* variables and the config file; print what 'start' would use.
  beckon backup <file> [--data ./data]
      Copy <data>/beckon.db to <file> while a node may be running (one consistent snapshot).
  beckon apikey create <name> [--scopes read,write,admin] | list | revoke <id> [--data ./data | --store postgres://…]
      Manage the server API's keys (stored hashed in <data>/beckon.db; docs/server-api.md).
  beckon --help | --version

Options (a flag beats its BECKON_* variable, which beats the config file, which beats the default):
  --config <path>   [BECKON_CONFIG]   default ./${CONFIG_FILE_NAME} when it exists
      the config file (JSON, the keys of 'beckon genconfig')
${cliOptionRows().map(optionLine).join("\n")}

A boolean flag is turned off with --no-<flag> (e.g. --no-push-web-push-enabled).
The push gateway's signing secret: BECKON_PUSH_HTTP_SECRET, or --push-http-secret-file.

Secret: BECKON_SECRET, or --secret-file. In development mode without either, a random secret is
kept in <data>/dev-secret. With BECKON_SECRET set in development mode, /dev/token stays off
(it would mint tokens signed with your real secret).
More keys tokens may be signed with, each selected by the token's kid: --token-keys kid=file,…
(a PEM public key: RS256, ES256, EdDSA; or an HMAC secret), --token-jwks-url, and ZEGO's token04
with --zego-app-id and BECKON_ZEGO_SERVER_SECRET. Rotating a secret without logging anyone out:
docs/tokens.md.
Docs: docs/configuration.md
`;
}

function version(): string {
  const path = fileURLToPath(new URL("../package.json", import.meta.url));
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

interface Secret {
  value: string;
  /** Said on stderr by `beckon token` and in the start banner. */
  origin: string;
  /** A secret the operator set (not the generated development one). */
  real: boolean;
}

/** BECKON_SECRET, else --secret-file, else (development only) a secret kept beside the data. */
function loadSecret(options: StartOptions, env: NodeJS.ProcessEnv): Secret {
  const secret = findSecret(options, env);
  if (secret.value.length < MIN_SECRET_LENGTH) {
    throw new UsageError(
      `the secret from ${secret.origin} is too short: it needs at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)`,
    );
  }
  return secret;
}

function findSecret(options: StartOptions, env: NodeJS.ProcessEnv): Secret {
  if (env.BECKON_SECRET) return { value: env.BECKON_SECRET, origin: "BECKON_SECRET", real: true };
  if (options.secretFile) {
    let value: string;
    try {
      value = readFileSync(options.secretFile, "utf8").trim();
    } catch (error) {
      throw new UsageError(`cannot read --secret-file: ${(error as Error).message}`);
    }
    return { value, origin: options.secretFile, real: true };
  }
  if (options.production) {
    throw new UsageError("production mode needs a secret: set BECKON_SECRET or --secret-file");
  }
  const file = join(options.data, "dev-secret");
  if (existsSync(file)) {
    return { value: readFileSync(file, "utf8").trim(), origin: file, real: false };
  }
  mkdirSync(options.data, { recursive: true });
  const value = randomBytes(32).toString("base64url");
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return { value, origin: file, real: false };
}

function demoDir(): string | undefined {
  const built = fileURLToPath(new URL("../../../apps/demo/dist", import.meta.url));
  return existsSync(join(built, "index.html")) ? built : undefined;
}

/** IPv4 addresses other machines on the LAN could reach this one at. */
function lanAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((info) => info && info.family === "IPv4" && !info.internal)
    .map((info) => info?.address as string);
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

async function start(cli: ResolvedCli, env: NodeJS.ProcessEnv): Promise<number> {
  installProcessGuards();
  const { options } = cli;
  // Push files are checked before the secret: a wrong setting writes nothing.
  const push = cliPush(options, env);
  const tokens = cliTokens(options, env);
  const secret = loadSecret(options, env);
  const devTokens = !options.production && !secret.real;
  const staticDir = demoDir();
  const server = await createServer({
    ...serverOptionsOf(options),
    secret: secret.value,
    store: options.store ?? join(options.data, "beckon.db"),
    devTokens,
    staticDir,
    ...(push.settings ? { push: push.settings } : {}),
    ...tokens.settings,
  });
  const wildcard = options.host === "0.0.0.0" || options.host === "::";
  const local = (url: string) => url.replace(/\/\/(0\.0\.0\.0|\[::\])/, "//localhost");
  const httpUrl = local(server.httpUrl);
  const lines = [
    `Beckon is running (${options.production ? "production" : "development"} mode).`,
    `  WebSocket: ${local(server.url)}`,
    staticDir ? `  Demo:      ${httpUrl}/` : "  Demo:      not built (npm run build:demo)",
    `  Health:    ${httpUrl}/healthz   Metrics: ${httpUrl}/metrics`,
    `  Push:      ${push.summary.length > 0 ? push.summary.join(", ") : "off"} (docs/push.md)`,
  ];
  if (devTokens) {
    lines.push(`  Tokens:    POST ${httpUrl}/dev/token or 'beckon token <userID>'`);
  } else if (!options.production) {
    lines.push(
      "  Tokens:    /dev/token is off: BECKON_SECRET (or --secret-file) is set, and /dev/token",
      "             would mint tokens signed with it. Mint tokens in your backend, or unset it.",
    );
  }
  if (tokens.summary.length > 0) {
    lines.push(`  Tokens:    also verified with ${tokens.summary.join("; ")} (docs/tokens.md)`);
  }
  if (wildcard) {
    for (const address of lanAddresses()) {
      lines.push(`  On the LAN: http://${address}:${server.port}/`);
    }
  } else if (isLoopback(options.host) && !options.production) {
    const address = lanAddresses()[0];
    lines.push(
      `  Only this computer can connect (listening on ${options.host}). For a phone on your LAN,`,
      `  start with --host 0.0.0.0 and open ${address ? `http://${address}:${server.port}/` : `http://<this computer's address>:${server.port}/`}`,
    );
  }
  // Handlers go in before the banner: whoever reads the banner may signal at once.
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`beckon: stopping failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  process.stdout.write(`${lines.join("\n")}\n`);
  return -1;
}

async function token(cli: ResolvedCli, env: NodeJS.ProcessEnv): Promise<number> {
  const userID = cli.positionals[0];
  if (!isValidUserID(userID) || cli.positionals.length > 1) {
    throw new UsageError(
      `beckon token needs one valid userID (1–32 letters, digits or !#$%&()+-:;<=.>?@[]^_{}|~), got ${cli.positionals.length === 0 ? "none" : JSON.stringify(cli.positionals.join(" "))}`,
    );
  }
  const ttlText = cli.ttl ?? "86400";
  const ttlSeconds = Number(ttlText);
  const max = cli.options.maxTokenLifetimeSeconds;
  if (!/^\d+$/.test(ttlText) || ttlSeconds <= 0 || ttlSeconds > max) {
    throw new UsageError(
      `--ttl must be a whole number of seconds from 1 to ${max} (maxTokenLifetimeSeconds), got "${ttlText}"`,
    );
  }
  const secret = loadSecret(cli.options, env);
  const keyID = cli.options.secretKeyID;
  process.stderr.write(
    `beckon: token signed with the secret from ${secret.origin}${keyID === undefined ? "" : ` (kid ${keyID})`}\n`,
  );
  const token = await signToken({
    secret: secret.value,
    userID,
    ttlSeconds,
    ...(keyID === undefined ? {} : { keyID }),
  });
  process.stdout.write(`${token}\n`);
  return 0;
}

/** A config file with every option; paths stay as the user would write them. */
function genconfig(cli: ResolvedCli): number {
  const { secretFile, ...options } = cli.options;
  const config = { ...options, ...(secretFile ? { secretFile } : {}) };
  process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  return 0;
}

function checkconfig(cli: ResolvedCli, env: NodeJS.ProcessEnv): number {
  // The push and token key files are read as start would read them.
  const push = cliPush(cli.options, env);
  const tokens = cliTokens(cli.options, env);
  const shown = Object.entries(cli.options).map(([key, value]) => {
    const source = cli.sources.get(key) ?? (typeof value === "object" ? undefined : "default");
    return `  ${key.padEnd(24)} ${JSON.stringify(value)}${source ? `   (${source})` : ""}`;
  });
  process.stdout.write(
    `Configuration is valid${cli.configFile ? ` (config file ${cli.configFile})` : ""}:\n${shown.join("\n")}\n  push providers: ${push.summary.join(", ") || "none"}\n  token keys besides the secret: ${tokens.summary.join("; ") || "none"}\n`,
  );
  return 0;
}

/**
 * An online backup: VACUUM INTO reads one snapshot inside a read transaction, which in WAL mode
 * never blocks the running node's writes, and writes a compact copy.
 */
function backup(cli: ResolvedCli): number {
  const target = cli.positionals[0];
  if (target === undefined || cli.positionals.length > 1) {
    throw new UsageError("beckon backup needs one argument: the file to write");
  }
  const source = join(cli.options.data, "beckon.db");
  if (!existsSync(source)) throw new UsageError(`there is no database at ${source} (see --data)`);
  const destination = resolve(target);
  if (existsSync(destination)) throw new UsageError(`${destination} exists; choose a new file`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.prepare("VACUUM INTO ?").run(destination);
  } finally {
    db.close();
  }
  process.stderr.write(`beckon: backed up ${source} to ${destination}\n`);
  return 0;
}

/**
 * `beckon apikey …`: its own arguments, plus `--data` (or BECKON_DATA) for the SQLite database,
 * or `--store postgres://…` (or BECKON_STORE) for a cluster's.
 */
async function apikey(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const rest = [...args];
  const take = (flag: string, what: string): string | undefined => {
    const at = rest.indexOf(flag);
    if (at < 0) return undefined;
    const value = rest[at + 1];
    if (value === undefined) throw new UsageError(`${flag} needs ${what}`);
    rest.splice(at, 2);
    return value;
  };
  const dataDir = take("--data", "a folder") ?? env.BECKON_DATA ?? "./data";
  const store = take("--store", "a postgres:// URL") ?? env.BECKON_STORE;
  const result = await runApikeyCommand(rest, {
    dataDir: resolve(dataDir),
    ...(store ? { store } : {}),
  });
  (result.exitCode === 0 ? process.stdout : process.stderr).write(`${result.output}\n`);
  return result.exitCode;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === "apikey") return apikey(argv.slice(1), env);
  const cli = resolveCli(argv, env);
  if (cli.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (cli.help || cli.command === undefined || cli.command === "help") {
    process.stdout.write(helpText());
    return 0;
  }
  if (cli.ttl !== undefined && cli.command !== "token") {
    throw new UsageError("--ttl only applies to 'beckon token'");
  }
  if (cli.command !== "token" && cli.command !== "backup" && cli.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${cli.positionals[0]}" after ${cli.command}`);
  }
  switch (cli.command) {
    case "start":
      return start(cli, env);
    case "token":
      return token(cli, env);
    case "genconfig":
      return genconfig(cli);
    case "checkconfig":
      return checkconfig(cli, env);
    case "backup":
      return backup(cli);
    default:
      throw new UsageError(
        `unknown command "${cli.command}"; the commands are start, token, genconfig, checkconfig, backup, apikey`,
      );
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    // Options createServer refuses are configuration mistakes too (exit 2, docs/configuration.md).
    if (error instanceof UsageError || error instanceof InvalidOptionsError) {
      process.stderr.write(`beckon: ${error.message}\nRun 'beckon --help' for the options.\n`);
      process.exitCode = 2;
      return;
    }
    const code = (error as NodeJS.ErrnoException).code;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      code === "EADDRINUSE"
        ? `beckon: the port is already in use (${message}); choose another with --port\n`
        : `beckon: ${message}\n`,
    );
    process.exitCode = 1;
  },
);
