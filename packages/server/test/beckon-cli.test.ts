// The `beckon` command as a user runs it: a development token, and a node that starts, serves
// a login with that token, and stops on SIGTERM.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BeckonClient } from "@beckon/sdk";
import { decodeJwt } from "jose";
import { afterEach, beforeAll, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  // `npm test` builds first (typecheck runs tsc -b); a bare `vitest run` may not have.
  if (!existsSync(cli))
    throw new Error("packages/server/dist is missing: run `npm run build` first");
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
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
  const child = spawn(
    process.execPath,
    [cli, "start", "--port", "0", "--host", "127.0.0.1", "--data", data],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /WebSocket: (ws:\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`beckon start exited with ${code}: ${output}`)));
  });
  expect(output).toContain("development mode");
  expect(existsSync(join(data, "beckon.db"))).toBe(true);

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
  const httpUrl = url.replace("ws:", "http:").replace(/\/ws$/, "");
  const minted = await fetch(`${httpUrl}/dev/token`, { method: "POST", body: '{"userID":"bob"}' });
  expect(decodeJwt(((await minted.json()) as { token: string }).token).sub).toBe("bob");

  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
});
