// The `beckon` command as a user runs it: a development token, and a node that starts, serves
// a login with that token, and stops on SIGTERM.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BeckonClient } from "@beckon/sdk";
import { SqliteCallStore, signToken } from "@beckon/server";
import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  cliPath as cli,
  startBeckon,
  stopAll,
  stopBeckon,
} from "./support/beckon-process.js";
import {
  dropRedisKeys,
  havePostgres,
  haveRedis,
  postgresSchemas,
  postgresUrl,
  redisUrl,
  uniqueName,
} from "./support/services.js";

const dirs: string[] = [];

beforeAll(assertBuilt);

afterEach(async () => {
  await stopAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "beckon-cli-"));
  dirs.push(dir);
  return dir;
}

it("beckon --help describes the commands", () => {
  const result = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
  expect(result.status).toBe(0);
  expect(result.stdout).toContain("beckon start");
  expect(result.stdout).toContain("beckon token <userID>");
});

it("beckon token prints a token for the user, signed with the data folder's secret", () => {
  const data = tempDir();
  const result = spawnSync(
    process.execPath,
    [cli, "token", "alice", "--data", data, "--ttl", "60"],
    {
      encoding: "utf8",
      env: { ...process.env, BECKON_SECRET: "" },
    },
  );
  expect(result.status).toBe(0);
  const claims = decodeJwt(result.stdout.trim());
  expect(claims.sub).toBe("alice");
  expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
  expect(readFileSync(join(data, "dev-secret"), "utf8").trim().length).toBeGreaterThan(20);
  const bad = spawnSync(process.execPath, [cli, "token", "not valid!"], { encoding: "utf8" });
  expect(bad.status).toBe(2);
});

it("beckon start serves logins with tokens from beckon token, and stops on SIGTERM", async () => {
  const data = tempDir();
  const env = { ...process.env, BECKON_SECRET: "", NODE_ENV: "" };
  const {
    child,
    banner: output,
    url,
    httpUrl,
  } = await startBeckon(["--port", "0", "--host", "127.0.0.1", "--data", data], env);
  expect(output).toContain("development mode");
  expect(existsSync(join(data, "beckon.db"))).toBe(true);
  // The first log line of a start is what a new user reads first: a plan, not an alarm.
  const first = JSON.parse(output.split("\n").find((line) => line.startsWith("{")) ?? "{}");
  expect(first.level).toBe(30);
  expect(first.msg).not.toMatch(/refuse|reject|fail|error|denied|cannot/i);

  const token = spawnSync(process.execPath, [cli, "token", "alice", "--data", data], {
    encoding: "utf8",
    env,
  }).stdout.trim();
  const client = new BeckonClient({ url });
  try {
    await client.login("alice", { token });
    expect(client.connectionState).toBe(2);
  } finally {
    await client.destroy();
  }
  const minted = await fetch(`${httpUrl}/dev/token`, { method: "POST", body: '{"userID":"bob"}' });
  expect(decodeJwt(((await minted.json()) as { token: string }).token).sub).toBe("bob");

  expect(await stopBeckon(child)).toBe(0);
});

it("beckon start in development mode listens on 127.0.0.1 and says how to let a phone in", async () => {
  const data = tempDir();
  const env = { ...process.env, BECKON_SECRET: "", NODE_ENV: "", BECKON_PORT: "0" };
  const { child, banner, url } = await startBeckon(["--data", data, "--log-level", "silent"], env);
  expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  expect(banner).toContain("Only this computer can connect (listening on 127.0.0.1)");
  expect(banner).toContain("start with --host 0.0.0.0 and open http://");
  expect(await stopBeckon(child)).toBe(0);
});

it("with BECKON_SECRET but not --production, /dev/token is off and says why", async () => {
  const data = tempDir();
  const secret = "a-real-secret-0123456789";
  const env = { ...process.env, BECKON_SECRET: secret, NODE_ENV: "" };
  const { child, banner, url, httpUrl } = await startBeckon(
    ["--data", data, "--port", "0", "--log-level", "silent"],
    env,
  );
  expect(banner).toContain("/dev/token is off: BECKON_SECRET");
  const minted = await fetch(`${httpUrl}/dev/token`, { method: "POST", body: '{"userID":"bob"}' });
  expect(minted.status).toBe(404);
  expect(existsSync(join(data, "dev-secret"))).toBe(false);
  // beckon token uses the same secret, says so on stderr, and prints only the token on stdout.
  const token = spawnSync(process.execPath, [cli, "token", "alice", "--data", data], {
    encoding: "utf8",
    env,
  });
  expect(token.status).toBe(0);
  expect(token.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  expect(token.stderr).toContain("signed with the secret from BECKON_SECRET");
  expect(token.stderr).not.toContain(secret);
  const client = new BeckonClient({ url });
  try {
    await client.login("alice", { token: token.stdout.trim() });
    expect(client.connectionState).toBe(2);
  } finally {
    await client.destroy();
  }
  expect(await stopBeckon(child)).toBe(0);
});

it("production mode without a secret, or with a bad option, exits 2 with the reason", () => {
  const data = tempDir();
  const env = { ...process.env, BECKON_SECRET: "", NODE_ENV: "" };
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...env, ...extra } });
  const noSecret = run(["start", "--production", "--data", data]);
  expect(noSecret.status).toBe(2);
  expect(noSecret.stderr).toContain("production mode needs a secret");
  const heartbeat = run(["start", "--data", data], { BECKON_HEARTBEAT_INTERVAL_MS: "0" });
  expect(heartbeat.status).toBe(2);
  expect(heartbeat.stderr).toContain(
    "heartbeatIntervalMs (--heartbeat-interval-ms / BECKON_HEARTBEAT_INTERVAL_MS) from BECKON_HEARTBEAT_INTERVAL_MS: must be at least 10 (got 0)",
  );
  expect(existsSync(join(data, "beckon.db"))).toBe(false);
  const unknown = run(["strat"]);
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toContain('unknown command "strat"');
  const ttl = run(["token", "alice", "--data", data, "--ttl", String(40 * 86_400)]);
  expect(ttl.status).toBe(2);
  expect(ttl.stderr).toContain("--ttl must be a whole number of seconds from 1 to 2592000");
});

it("a secret shorter than 16 characters is a configuration mistake: exit 2, for start and token", () => {
  const data = tempDir();
  const env = { ...process.env, BECKON_SECRET: "too-short", NODE_ENV: "" };
  for (const args of [
    ["start", "--production", "--data", data, "--port", "0"],
    ["start", "--data", data, "--port", "0"],
    ["token", "alice", "--data", data],
  ]) {
    const result = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env });
    expect(result.status, `${args.join(" ")}: ${result.stderr}`).toBe(2);
    expect(result.stderr).toContain("the secret from BECKON_SECRET is too short");
    expect(result.stderr).not.toContain("too-short");
    expect(result.stdout).toBe("");
  }
  expect(existsSync(join(data, "beckon.db"))).toBe(false);
});

it("beckon genconfig > beckon.config.json works: the file the shell just emptied is not read", () => {
  const dir = tempDir();
  const env = { ...process.env, BECKON_SECRET: "", NODE_ENV: "", BECKON_CONFIG: "" };
  const generated = spawnSync(
    "sh",
    ["-c", `"${process.execPath}" "${cli}" genconfig > beckon.config.json`],
    {
      encoding: "utf8",
      env,
      cwd: dir,
    },
  );
  expect(generated.status, generated.stderr).toBe(0);
  const config = JSON.parse(readFileSync(join(dir, "beckon.config.json"), "utf8"));
  expect(config).toMatchObject({ port: 4000, host: "127.0.0.1" });
  // An empty config file is still refused where it is read as a config.
  writeFileSync(join(dir, "beckon.config.json"), "");
  const checked = spawnSync(process.execPath, [cli, "checkconfig"], {
    encoding: "utf8",
    env,
    cwd: dir,
  });
  expect(checked.status).toBe(2);
  expect(checked.stderr).toContain("is not valid JSON");
});

it("beckon genconfig writes a file beckon checkconfig and beckon start accept", async () => {
  const dir = tempDir();
  const env = { ...process.env, BECKON_SECRET: "", NODE_ENV: "" };
  const generated = spawnSync(
    process.execPath,
    [cli, "genconfig", "--port", "0", "--log-level", "silent", "--data", join(dir, "state")],
    { encoding: "utf8", env, cwd: dir },
  );
  expect(generated.status).toBe(0);
  const config = JSON.parse(generated.stdout) as Record<string, unknown>;
  expect(config).toMatchObject({ port: 0, host: "127.0.0.1", notReceivedCheckMs: 5000 });
  writeFileSync(join(dir, "beckon.config.json"), generated.stdout);
  const checked = spawnSync(process.execPath, [cli, "checkconfig"], {
    encoding: "utf8",
    env,
    cwd: dir,
  });
  expect(checked.status).toBe(0);
  expect(checked.stdout).toContain("Configuration is valid");
  expect(checked.stdout).toMatch(/port\s+0\s+\(.*beckon\.config\.json\)/);

  const { child } = await startBeckon(["--config", join(dir, "beckon.config.json")], env);
  expect(existsSync(join(dir, "state", "beckon.db"))).toBe(true);
  expect(await stopBeckon(child)).toBe(0);

  writeFileSync(join(dir, "beckon.config.json"), JSON.stringify({ ...config, retentionMs: -1 }));
  const bad = spawnSync(process.execPath, [cli, "checkconfig"], {
    encoding: "utf8",
    env,
    cwd: dir,
  });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("retentionMs (--retention-ms / BECKON_RETENTION_MS) from");
});

it("beckon backup copies the database of a running node into a file SQLite opens", async () => {
  const data = tempDir();
  const env = { ...process.env, BECKON_SECRET: "", NODE_ENV: "" };
  const { child, url } = await startBeckon(["--data", data, "--port", "0"], env);
  const token = (userID: string) =>
    spawnSync(process.execPath, [cli, "token", userID, "--data", data], {
      encoding: "utf8",
      env,
    }).stdout.trim();
  const alice = new BeckonClient({ url });
  let callID: string;
  try {
    await alice.login("alice", { token: token("alice") });
    const bob = new BeckonClient({ url });
    await bob.login("bob", { token: token("bob") });
    await bob.destroy();
    ({ callID } = await alice.callInvite(["bob"], { timeout: 60 }));
  } finally {
    await alice.destroy();
  }
  const file = join(tempDir(), "backup.db");
  const result = spawnSync(process.execPath, [cli, "backup", file, "--data", data], {
    encoding: "utf8",
    env,
  });
  expect(result.status, result.stderr).toBe(0);
  const copy = new SqliteCallStore(file);
  try {
    expect((await copy.getCall(callID))?.callID).toBe(callID);
  } finally {
    await copy.close();
  }
  const again = spawnSync(process.execPath, [cli, "backup", file, "--data", data], {
    encoding: "utf8",
    env,
  });
  expect(again.status).toBe(2);
  expect(again.stderr).toContain("exists; choose a new file");
  expect(await stopBeckon(child)).toBe(0);
});

describe("beckon start in cluster mode", async () => {
  const ready = (await havePostgres()) && (await haveRedis());
  const schemas = postgresSchemas();
  const prefix = uniqueName("beckon_cli");
  afterAll(async () => {
    await schemas.dropAll();
    await dropRedisKeys(prefix);
  });

  it.runIf(ready)(
    "--store postgres:// and --redis redis:// start a node that serves logins",
    async () => {
      const dir = tempDir();
      const store = `${postgresUrl}${postgresUrl.includes("?") ? "&" : "?"}schema=${schemas.create()}`;
      const { child, url } = await startBeckon(
        ["--port", "0", "--data", dir, "--store", store, "--redis", `${redisUrl}?prefix=${prefix}`],
        {
          ...process.env,
          BECKON_SECRET: "cluster-cli-secret-0123456789",
          BECKON_LOG_LEVEL: "silent",
        },
      );
      const client = new BeckonClient({ url });
      try {
        const token = await signToken({ secret: "cluster-cli-secret-0123456789", userID: "pat" });
        await client.login("pat", { token });
        const { callList } = await client.queryCallInvitationList({ count: 5, nextFlag: 0 });
        expect(callList).toEqual([]);
        // SQLite was not used: the data folder holds no database.
        expect(existsSync(join(dir, "beckon.db"))).toBe(false);
      } finally {
        await client.destroy();
      }
      expect(await stopBeckon(child)).toBe(0);
    },
  );

  it("refuses a --store that is not a postgres:// URL", () => {
    const result = spawnSync(process.execPath, [cli, "checkconfig", "--store", "/tmp/x.db"], {
      encoding: "utf8",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("postgres://");
  });
});
