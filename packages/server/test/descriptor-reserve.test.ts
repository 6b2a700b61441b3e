// With a low open-file limit, idle sockets once used up every descriptor and SQLite failed
// ("unable to open database file"). A node runs with its soft limit raised, keeps a reserve
// for the store, refuses sockets before touching it, and says so in its log.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BeckonClient } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { afterEach, beforeAll, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const SECRET = "descriptor-secret-0123456789";
const dirs: string[] = [];
const children: ChildProcess[] = [];
const sockets: Socket[] = [];
const clients: BeckonClient[] = [];

beforeAll(() => {
  if (!existsSync(cli)) throw new Error("packages/server/dist is missing: run `npm run build`");
  if (spawnSync("prlimit", ["--version"]).status !== 0) throw new Error("prlimit is missing");
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts `beckon start` under the given open-file limits; resolves with its URL and log. */
async function start(soft: number, hard: number) {
  const data = mkdtempSync(join(tmpdir(), "beckon-fd-"));
  dirs.push(data);
  const child = spawn(
    "prlimit",
    [
      `--nofile=${soft}:${hard}`,
      process.execPath,
      cli,
      "start",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--production",
      "--data",
      data,
    ],
    { env: { ...process.env, BECKON_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  const log = { text: "" };
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      log.text += chunk.toString();
      const match = /WebSocket: (ws:\S+)/.exec(log.text);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`beckon exited with ${code}: ${log.text}`)));
  });
  const port = Number(new URL(url).port);
  return { url, port, log };
}

async function loggedIn(url: string, userID: string): Promise<BeckonClient> {
  const client = new BeckonClient({ url });
  clients.push(client);
  await client.login(userID, { token: await signToken({ secret: SECRET, userID }) });
  return client;
}

it("runs with the soft open-file limit raised to the hard one, and plans within it", async () => {
  const { log } = await start(256, 512);
  expect(log.text).toMatch(/"openFileLimit":512,/);
  expect(log.text).not.toContain("below the hard limit");
});

it("refuses sockets before the store's reserve is touched; honest calls keep working", async () => {
  const { url, port, log } = await start(256, 256);
  const planned = /"maxConnections":(\d+)/.exec(log.text);
  expect(planned).not.toBeNull();
  const maxConnections = Number(planned?.[1]);
  expect(maxConnections).toBeLessThan(256 - 100);
  const alice = await loggedIn(url, "alice");
  const bob = await loggedIn(url, "bob");
  const invited = new Promise<string>((resolve) =>
    bob.on("callInvitationReceived", (_client, { callID }) => resolve(callID)),
  );
  // Twice as many connections as the node may hold, each asking for /healthz and staying open:
  // a held one is answered, a refused one is closed unanswered.
  const closedByServer = await Promise.all(
    Array.from(
      { length: 2 * maxConnections },
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, "127.0.0.1");
          sockets.push(socket);
          socket.on("error", () => undefined);
          socket.once("data", () => resolve(false));
          socket.once("close", () => resolve(true));
          socket.once("connect", () =>
            socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"),
          );
        }),
    ),
  );
  expect(closedByServer.filter(Boolean).length).toBeGreaterThan(0);
  const held = closedByServer.filter((closed) => !closed).length;
  expect(held).toBeGreaterThan(0);
  expect(held).toBeLessThanOrEqual(maxConnections);
  const { callID } = await alice.callInvite(["bob"], { timeout: 30 });
  expect(await invited).toBe(callID);
  expect(log.text).toContain("refusing connections");
});
