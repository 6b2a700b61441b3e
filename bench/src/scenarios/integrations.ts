// Scenario 7, integrations off the ring path: the same fixed-rate workload (scenario 0's load,
// with every few calls also ringing a user who is offline with a push registration) against
// Beckon with no integration, with a dead webhook endpoint subscribed to every event, and with
// an HTTP push provider that answers after seconds. Webhooks and pushes are sent from the outbox
// relay's hooks, so the ring latency of the online callee should not move; the figures say
// whether it does, and the integration's own counts show it really was exercised.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { WorkloadResult } from "../load/workload-load.js";
import { CpuMeter } from "../proc-stats.js";
import {
  type DeadEndpoint,
  holdingEndpoint,
  refusedEndpoint,
  type SlowReceiver,
  slowReceiver,
} from "../servers/dead-endpoints.js";
import type { LoopDelayReport } from "../servers/server-probes.js";
import { type RunningServer, sleep, startServer } from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";

export type IntegrationSetup =
  | "baseline"
  | "webhook-ok"
  | "webhook-hold"
  | "webhook-refused"
  | "push-slow";

export const integrationSetups: Record<IntegrationSetup, string> = {
  baseline: "a: no webhook endpoint, no push provider",
  "webhook-ok": "a2: webhook endpoint that answers at once",
  "webhook-hold": "b: webhook endpoint that never answers",
  "webhook-refused": "b: webhook endpoint that refuses connections",
  "push-slow": "c: HTTP push provider answering late",
};

/** What the server's own tables say the integrations did, read from its SQLite file. */
export interface IntegrationCounts {
  webhookDeliveries: number;
  /** Attempts that finished (answered, refused or timed out) and were recorded. */
  webhookAttempts: number;
  webhookPending: number;
  pushSends: number;
  pushQueued: number;
  pushSent: number;
  pushFailed: number;
}

export interface IntegrationsRow extends IntegrationCounts {
  setup: IntegrationSetup;
  /** 1 for the first pass over the setups. */
  round: number;
  label: string;
  offeredPerSecond: number;
  sent: number;
  /** Sent calls that also rang an offline user (and ended with the caller's cancel). */
  offlineCalls: number;
  completed: number;
  completedPerSecond: number;
  ringMs: Summary;
  callMs: Summary;
  skipped: number;
  errors: number;
  firstError: string | null;
  serverCpuPercent: number;
  serverLoopDelayMaxMs: number;
  /** TCP connections the dead endpoint accepted and held (attempts started), hold only. */
  endpointConnections: number | null;
  /** Requests the slow push receiver got (pushes started), push-slow only. */
  pushRequests: number | null;
}

const workloadScript = new URL("../load/workload-load.js", import.meta.url);
const cliScript = fileURLToPath(new URL("./cli.js", import.meta.resolve("@beckon/server")));

/** An admin API key made the way an operator makes one: `beckon apikey create` on the data dir. */
async function createApiKey(dataDir: string): Promise<string> {
  const { stdout: output } = await promisify(execFile)(
    process.execPath,
    [cliScript, "apikey", "create", "bench", "--scopes", "read,write,admin", "--data", dataDir],
    { encoding: "utf8" },
  );
  const key = output.split("\n")[0]?.trim();
  if (!key) throw new Error(`beckon apikey create printed no key: ${output}`);
  return key;
}

function apiClient(httpUrl: string, key: string) {
  return async (method: string, path: string, body: unknown): Promise<unknown> => {
    const response = await fetch(`${httpUrl}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /api${path}: ${response.status} ${text}`);
    return JSON.parse(text) as unknown;
  };
}

function countIntegrations(storeFile: string): IntegrationCounts {
  const db = new Database(storeFile, { readonly: true, fileMustExist: true });
  try {
    const webhooks = db
      .prepare<[], { deliveries: number; pending: number }>(
        `SELECT count(*) AS deliveries, coalesce(sum(status = 'pending'), 0) AS pending
         FROM webhook_deliveries`,
      )
      .get();
    const attempts = db
      .prepare<[], { n: number }>("SELECT count(*) AS n FROM webhook_attempts")
      .get();
    const pushes = db
      .prepare<[], { status: string; n: number }>(
        "SELECT status, count(*) AS n FROM push_sends GROUP BY status",
      )
      .all();
    const push = (status: string) => pushes.find((row) => row.status === status)?.n ?? 0;
    return {
      webhookDeliveries: webhooks?.deliveries ?? 0,
      webhookAttempts: attempts?.n ?? 0,
      webhookPending: webhooks?.pending ?? 0,
      pushSends: pushes.reduce((sum, row) => sum + row.n, 0),
      pushQueued: push("queued"),
      pushSent: push("sent"),
      pushFailed: push("failed"),
    };
  } finally {
    db.close();
  }
}

/** Throws unless the setup's integration visibly did work: a bench of nothing proves nothing. */
function checkExercised(row: IntegrationsRow): void {
  const problems: string[] = [];
  if (row.offlineCalls === 0 || row.pushSends === 0) {
    problems.push(`${row.offlineCalls} calls to offline users, ${row.pushSends} pushes claimed`);
  }
  if (row.setup === "webhook-ok" && !row.pushRequests) {
    problems.push("the live endpoint got no request");
  }
  if (row.setup.startsWith("webhook-")) {
    if (row.webhookDeliveries === 0) problems.push("no webhook delivery was queued");
  }
  if (row.setup === "webhook-hold" && !row.endpointConnections) {
    problems.push("the dead endpoint was never connected to");
  }
  if (row.setup === "webhook-refused" && row.webhookAttempts === 0) {
    problems.push("no webhook attempt was recorded");
  }
  if (row.setup === "push-slow" && !row.pushRequests) {
    problems.push("the push receiver got no request");
  }
  if (problems.length > 0) {
    throw new Error(`integrations/${row.setup} did not exercise its integration: ${problems}`);
  }
}

export async function runIntegrations(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean = () => true,
): Promise<IntegrationsRow[]> {
  const settings = config.integrations;
  const rows: IntegrationsRow[] = [];
  const setups = (Object.keys(integrationSetups) as IntegrationSetup[]).filter(selected);
  const runs = Array.from({ length: settings.rounds }, (_, r) =>
    setups.map((setup) => ({ setup, round: r + 1, dataDir: join(workDir, `${setup}-${r + 1}`) })),
  ).flat();
  // Each run gets a fresh store: a copy of one that holds nothing but the API key (one CLI run;
  // the CLI closes its database, so the file is complete without its WAL).
  const templateDir = join(workDir, "integrations-template");
  mkdirSync(templateDir);
  const key = await createApiKey(templateDir);
  const template = join(templateDir, "beckon.db");
  if (existsSync(`${template}-wal`)) throw new Error("the API key's database was left open");
  for (const { dataDir } of runs) {
    mkdirSync(dataDir);
    copyFileSync(template, join(dataDir, "beckon.db"));
  }
  const { child: load } = await BenchChild.start("integrations load", workloadScript);
  try {
    for (const run of runs) rows.push(await runSetup(run.setup, run.round, run.dataDir, key));
  } finally {
    await stopAll([load]);
  }
  return rows;

  async function runSetup(
    setup: IntegrationSetup,
    round: number,
    dataDir: string,
    key: string,
  ): Promise<IntegrationsRow> {
    const label = integrationSetups[setup];
    const tag = settings.rounds > 1 ? `${label} (round ${round})` : label;
    let endpoint: DeadEndpoint | undefined;
    let pushReceiver: SlowReceiver | undefined;
    let liveEndpoint: SlowReceiver | undefined;
    let server: RunningServer | undefined;
    try {
      if (setup === "webhook-hold") endpoint = await holdingEndpoint();
      // A healthy endpoint: what webhooks cost by themselves, beside which the dead ones are read.
      if (setup === "webhook-ok") {
        const live = await slowReceiver(0);
        endpoint = { url: live.url, connections: () => 0, close: () => live.close() };
        liveEndpoint = live;
      }
      if (setup === "webhook-refused") endpoint = await refusedEndpoint();
      if (setup === "push-slow") pushReceiver = await slowReceiver(settings.pushDelayMs);
      server = await startServer("beckon", workDir, {
        store: join(dataDir, "beckon.db"),
        ...(pushReceiver
          ? {
              push: {
                http: {
                  url: pushReceiver.url,
                  secret: `whsec_${randomBytes(24).toString("base64")}`,
                },
              },
            }
          : {}),
      });
      const api = apiClient(server.httpUrl as string, key);
      const offlineIDs = Array.from({ length: settings.offlineUsers }, (_, i) => `io${i}`);
      for (let at = 0; at < offlineIDs.length; at += 100) {
        await api("POST", "/users", { userIDs: offlineIDs.slice(at, at + 100) });
      }
      // Every setup has the same registrations; only (c) has a provider that sends them.
      for (const userID of offlineIDs) {
        await api("POST", `/users/${userID}/push-registrations`, {
          deviceID: `${userID}-phone`,
          target: { provider: "http", token: `token-${userID}` },
        });
      }
      if (endpoint) {
        await api("POST", "/webhooks/endpoints", { url: endpoint.url, description: setup });
      }
      const connected = await load.call<{ users: number; devices: number }>(
        "connect",
        { target: server.target, prefix: "i", pairs: settings.pairs, concurrency: 50 },
        600_000,
      );
      log(
        `  ${tag}: ${connected.users} users (${connected.devices} devices) online, ${offlineIDs.length} offline with a push registration`,
      );
      await server.child.call<LoopDelayReport>("loopDelay");
      const phase = load.call<WorkloadResult>(
        "run",
        {
          rate: settings.rate,
          warmupMs: settings.warmupMs,
          durationMs: settings.durationMs,
          offline: {
            userIDs: offlineIDs,
            every: settings.offlineEvery,
            cancelAfterMs: settings.cancelAfterMs,
          },
        },
        120_000,
      );
      await sleep(settings.warmupMs);
      const meter = new CpuMeter([server.child.pid]);
      await sleep(settings.durationMs);
      const [serverCpu] = meter.read();
      const result = await phase;
      const delay = await server.child.call<LoopDelayReport>("loopDelay");
      const row: IntegrationsRow = {
        setup,
        round,
        label,
        offeredPerSecond: settings.rate,
        sent: result.sent,
        offlineCalls: result.offlineCalls,
        completed: result.completed,
        completedPerSecond: result.completed / (settings.durationMs / 1000),
        ringMs: summarize(result.ringMs),
        callMs: summarize(result.callMs),
        skipped: result.skipped,
        errors: result.errors + result.unfinished,
        firstError: result.firstError,
        serverCpuPercent: serverCpu ?? Number.NaN,
        serverLoopDelayMaxMs: delay.maxMs,
        endpointConnections: setup === "webhook-hold" ? (endpoint?.connections() ?? 0) : null,
        // For the live webhook endpoint, the requests it got.
        pushRequests: (pushReceiver ?? liveEndpoint)?.requests() ?? null,
        ...countIntegrations(server.store as string),
      };
      log(
        `  ${tag} @ ${settings.rate}/s: ${row.completed} calls, ring p50 ${row.ringMs.p50.toFixed(2)} p99 ${row.ringMs.p99.toFixed(2)} max ${row.ringMs.max.toFixed(1)} ms; webhook deliveries ${row.webhookDeliveries} (attempts ${row.webhookAttempts}${row.endpointConnections === null ? "" : `, ${row.endpointConnections} connections held`}), pushes ${row.pushSends} (${row.pushQueued} queued${row.pushRequests === null ? "" : `, ${row.pushRequests} received`})`,
      );
      checkExercised(row);
      return row;
    } finally {
      await load.call("close", {}, 60_000).catch(() => undefined);
      // The receivers go first, so the server's in-flight requests to them end now and its
      // shutdown does not wait out their timeouts.
      await endpoint?.close();
      await pushReceiver?.close();
      await stopAll([server?.child]);
    }
  }
}
