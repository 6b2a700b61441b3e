// A full disk is named as such: the client's error says the storage is full (not a bare
// internal error) and /readyz reports the node not ready, while the node keeps serving. The node
// runs as `beckon start` on a tiny tmpfs of its own (a private mount namespace).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode } from "@beckon/protocol";
import { BeckonClient } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { afterEach, beforeAll, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const SECRET = "storage-full-secret-0123456789";
const dirs: string[] = [];
const children: ChildProcess[] = [];
const clients: BeckonClient[] = [];

beforeAll(() => {
  if (!existsSync(cli)) throw new Error("packages/server/dist is missing: run `npm run build`");
  if (spawnSync("unshare", ["-rm", "true"]).status !== 0) {
    throw new Error("this test needs `unshare -rm` (user and mount namespaces)");
  }
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function loggedIn(url: string, userID: string): Promise<BeckonClient> {
  const client = new BeckonClient({ url });
  clients.push(client);
  await client.login(userID, { token: await signToken({ secret: SECRET, userID }) });
  return client;
}

it("a full disk gives a specific error and an unready /readyz; the node keeps serving", async () => {
  const data = mkdtempSync(join(tmpdir(), "beckon-full-"));
  dirs.push(data);
  const script = `mount -t tmpfs -o size=512k tmpfs "$1" && exec "$2" "$3" start --port 0 --host 127.0.0.1 --production --data "$1"`;
  const child = spawn("unshare", ["-rm", "sh", "-c", script, "sh", data, process.execPath, cli], {
    env: { ...process.env, BECKON_SECRET: SECRET },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /WebSocket: (ws:\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`beckon exited with ${code}: ${output}`)));
  });
  const httpUrl = url.replace("ws:", "http:").replace(/\/ws$/, "");
  const alice = await loggedIn(url, "alice");
  await loggedIn(url, "bob");
  expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);

  // Ring until the disk is full (bounded: the tmpfs holds a few hundred such calls at most).
  const extendedData = "x".repeat(2_000);
  let failure: { code?: number; message?: string } | null = null;
  for (let round = 0; round < 5_000 && !failure; round++) {
    try {
      const { callID } = await alice.callInvite(["bob"], { timeout: 60, extendedData });
      await alice.callCancel([], callID, { extendedData });
    } catch (error) {
      failure = error as { code?: number; message?: string };
    }
  }
  expect(failure?.code).toBe(ErrorCode.ServerError);
  expect(failure?.message).toMatch(/storage is full/);
  const ready = await fetch(`${httpUrl}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ ready: false, checks: { store: "storage full" } });
  expect((await fetch(`${httpUrl}/healthz`)).status).toBe(200);
  expect(output).toContain("storage is full");
});
