// Counts what one call costs a two-node cluster, statement by statement: two nodes in this
// process on a PostgreSQL database and a redis-server of their own, CALLS calls (default 60)
// started GAP_MS apart (default 50), each user's two devices on the two nodes; every statement
// the nodes' `pg` clients send is tallied by name, beside pg_stat_database's transactions and
// Redis' INFO counts. Exact counts, not timings. Run after `npm run build && tsc -b bench`:
//   node bench/dist/count-cluster-call.js
// BENCH_BASELINE_SERVER=<other build>/dist/index.js counts that build instead.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer as netServer } from "node:net";
import { BeckonClient } from "@beckon/sdk";
import type * as Server from "@beckon/server";
import { Redis } from "ioredis";
import pg from "pg";

const CALLS = Number(process.env.CALLS ?? 60);
const GAP_MS = Number(process.env.GAP_MS ?? 50);
const POSTGRES =
  process.env.BECKON_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const server = (await import(
  process.env.BENCH_BASELINE_SERVER || "@beckon/server"
)) as typeof Server;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function freePort(): Promise<number> {
  const probe = netServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const statements = new Map<string, number>();
let counting = false;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const config = args[0] as string | { name?: string; text?: string };
  if (counting) {
    const name =
      typeof config === "string" ? config.slice(0, 40) : (config.name ?? config.text?.slice(0, 40));
    statements.set(String(name), (statements.get(String(name)) ?? 0) + 1);
  }
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

const port = await freePort();
const redisServer: ChildProcess = spawn(
  process.env.BENCH_REDIS_SERVER ?? "redis-server",
  ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  { stdio: "ignore" },
);
const database = `beckon_count_${randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: POSTGRES });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(POSTGRES);
url.pathname = `/${database}`;
const redis = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true });
for (let attempt = 0; ; attempt++) {
  try {
    await redis.connect();
    break;
  } catch (error) {
    if (attempt > 50) throw error;
    await sleep(100);
  }
}
const secret = randomBytes(24).toString("base64url");
const nodes: Server.BeckonServer[] = [];
const devices: BeckonClient[] = [];
try {
  for (let n = 0; n < 2; n++) {
    nodes.push(
      await server.createServer({
        secret,
        logLevel: "silent",
        store: url.toString(),
        redis: `redis://127.0.0.1:${port}?prefix=count:`,
        services: { nodeID: `count-${n}` },
      }),
    );
  }
  async function user(userID: string): Promise<BeckonClient[]> {
    const token = await server.signToken({ secret, userID, ttlSeconds: 3_600 });
    const pair = nodes.map(
      (node, d) => new BeckonClient({ url: node.url, deviceID: `${userID}-${d}` }),
    );
    devices.push(...pair);
    await Promise.all(pair.map((device) => device.login(userID, { token })));
    return pair;
  }
  const pairs: Array<[BeckonClient[], BeckonClient[]]> = [];
  for (let i = 0; i < CALLS; i++) pairs.push([await user(`caller${i}`), await user(`callee${i}`)]);

  const counters = async () => {
    const row = (
      await admin.query<{ n: string; r: string }>(
        "SELECT xact_commit + xact_rollback AS n, xact_rollback AS r FROM pg_stat_database WHERE datname = $1",
        [database],
      )
    ).rows[0];
    const stats = await redis.info("stats");
    const commands = new Map<string, number>();
    for (const match of (await redis.info("commandstats")).matchAll(
      /^cmdstat_([^:]+):calls=(\d+)/gm,
    ))
      commands.set(match[1] as string, Number(match[2]));
    const processed = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0);
    return { transactions: Number(row?.n), rollbacks: Number(row?.r), processed, commands };
  };
  await sleep(1_000);
  const before = await counters();
  counting = true;
  await Promise.all(
    pairs.map(async ([caller, callee], i) => {
      await sleep(i * GAP_MS);
      const [main] = caller as [BeckonClient];
      const [answerer] = callee as [BeckonClient];
      const accepted = new Promise<void>((resolve) =>
        main.on("callUserStateChanged", (_client, data) => {
          if (data.callUserList.some((u) => u.userID === `callee${i}` && u.state === 1)) resolve();
        }),
      );
      answerer.on("callInvitationReceived", (_client, data) => {
        answerer.callAccept(data.callID, { extendedData: "" }).catch(() => undefined);
      });
      await main.callInvite([`callee${i}`], { timeout: 60 });
      await accepted;
    }),
  );
  await sleep(300);
  counting = false;
  const after = await counters();
  const per = (n: number) => (n / CALLS).toFixed(2);
  process.stdout.write(
    `${CALLS} calls: ${per(after.transactions - before.transactions)} PostgreSQL transactions ` +
      `(${per(after.rollbacks - before.rollbacks)} rolled back), ` +
      `${per(after.processed - before.processed)} Redis commands per call\n`,
  );
  const redisTop = [...after.commands]
    .map(([name, n]) => [name, n - (before.commands.get(name) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  process.stdout.write(`Redis: ${redisTop.map(([name, n]) => `${name} ${per(n)}`).join(", ")}\n`);
  process.stdout.write("PostgreSQL statements per call:\n");
  for (const [name, n] of [...statements].sort((a, b) => b[1] - a[1]))
    process.stdout.write(`  ${per(n).padStart(6)}  ${name}\n`);
} finally {
  await Promise.allSettled(devices.map((device) => device.destroy()));
  await Promise.allSettled(nodes.map((node) => node.close()));
  redis.disconnect();
  redisServer.kill();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}
