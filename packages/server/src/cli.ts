#!/usr/bin/env node
// The `beckon` command: start a single node, mint a development token, or print help.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isValidUserID } from "@beckon/protocol";
import { signToken } from "./auth-tokens.js";
import { createServer } from "./create-server.js";
import { installProcessGuards } from "./process-guards.js";

const help = `beckon — self-hostable call-invitation signaling

Usage:
  beckon start [--port 4000] [--host 0.0.0.0] [--data ./data] [--production]
      Start a single node: SQLite under --data, the demo page at http://localhost:PORT/.
      Development mode (the default) serves POST /dev/token, which mints a token for anyone;
      --production (or NODE_ENV=production) turns that off and requires BECKON_SECRET.
  beckon token <userID> [--ttl 86400] [--data ./data]
      Print a development token for <userID>, signed with the same secret as 'beckon start'.
  beckon --help

Environment:
  BECKON_SECRET   the token-signing secret (default: a random one kept in <data>/dev-secret)
  BECKON_PORT     default for --port
`;

/** The signing secret: BECKON_SECRET, or a development secret kept beside the database. */
function loadSecret(dataDir: string, production: boolean): string {
  const fromEnv = process.env.BECKON_SECRET;
  if (fromEnv) return fromEnv;
  if (production) throw new Error("BECKON_SECRET must be set in production mode");
  const file = join(dataDir, "dev-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function demoDir(): string | undefined {
  const built = fileURLToPath(new URL("../../../apps/demo/dist", import.meta.url));
  return existsSync(join(built, "index.html")) ? built : undefined;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string", default: process.env.BECKON_PORT ?? "4000" },
      host: { type: "string", default: "0.0.0.0" },
      data: { type: "string", default: "./data" },
      ttl: { type: "string", default: "86400" },
      production: { type: "boolean", default: process.env.NODE_ENV === "production" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(help);
    return 0;
  }
  const dataDir = resolve(values.data);
  if (command === "token") {
    const userID = rest[0];
    const ttlSeconds = Number(values.ttl);
    if (!isValidUserID(userID) || !Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
      process.stderr.write("usage: beckon token <userID> [--ttl seconds]\n");
      return 2;
    }
    const secret = loadSecret(dataDir, values.production);
    process.stdout.write(`${await signToken({ secret, userID, ttlSeconds })}\n`);
    return 0;
  }
  if (command === "start") {
    installProcessGuards();
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      process.stderr.write(`invalid --port ${values.port}\n`);
      return 2;
    }
    const staticDir = demoDir();
    const server = await createServer({
      secret: loadSecret(dataDir, values.production),
      port,
      host: values.host,
      store: join(dataDir, "beckon.db"),
      devTokens: !values.production,
      staticDir,
    });
    const shown = server.httpUrl.replace("0.0.0.0", "localhost");
    process.stdout.write(
      [
        `Beckon is running (${values.production ? "production" : "development"} mode).`,
        `  WebSocket: ${server.url.replace("0.0.0.0", "localhost")}`,
        staticDir ? `  Demo:      ${shown}/` : "  Demo:      not built (npm run build:demo)",
        values.production ? "" : `  Tokens:    POST ${shown}/dev/token or 'beckon token <userID>'`,
        "",
      ].join("\n"),
    );
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
    return -1;
  }
  process.stderr.write(`unknown command "${command}"\n\n${help}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`beckon: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
