// /metrics in Prometheus text format, and log lines that never carry a token or a secret.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { expect, it } from "vitest";
import { createLogger, usePrettyLogs } from "../src/logger.js";
import { useWorld } from "./support/world.js";

const world = useWorld();

function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

it("/metrics reports devices online, pending deadlines and the process's event-loop delay", async () => {
  const server = await world.server();
  const scrape = async () => {
    const response = await fetch(`${server.httpUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    return response.text();
  };
  expect(sample(await scrape(), "beckon_devices_online")).toBe(0);
  const alice = await world.device(server, "alice");
  await world.device(server, "bob");
  await alice.client.callInvite(["bob"], { timeout: 30 });
  const text = await scrape();
  expect(sample(text, "beckon_devices_online")).toBe(2);
  expect(sample(text, "beckon_pending_deadlines")).toBe(1);
  for (const name of [
    "beckon_logins_total",
    "beckon_rings_total",
    "beckon_ring_latency_seconds",
    "beckon_receipt_latency_seconds",
    "beckon_active_calls",
    "beckon_deadline_lateness_seconds",
    "beckon_store_commit_seconds",
    "nodejs_eventloop_lag_p99_seconds",
  ]) {
    expect(text).toContain(`# TYPE ${name} `);
  }
  const post = await fetch(`${server.httpUrl}/metrics`, { method: "POST" });
  expect(post.status).toBe(405);
});

it("beckon_active_calls counts the store's started calls: right after a restart, and never below 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-active-calls-"));
  try {
    const store = join(dir, "beckon.db");
    const first = await world.server({ store });
    const alice = await world.device(first, "alice");
    const bob = await world.device(first, "bob");
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    const active = async (httpUrl: string) => {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      return {
        general: sample(text, 'beckon_active_calls{mode="general"}'),
        advanced: sample(text, 'beckon_active_calls{mode="advanced"}'),
      };
    };
    expect(await active(first.httpUrl)).toEqual({ general: 1, advanced: 0 });
    await first.close();

    const second = await world.server({ store });
    expect(await active(second.httpUrl)).toEqual({ general: 1, advanced: 0 });
    const alice2 = await world.device(second, "alice");
    const bob2 = await world.device(second, "bob");
    await alice2.client.callCancel(["bob"], callID, {});
    await bob2.waitFor("callInvitationCancelled", (e) => e.callID === callID);
    expect(await active(second.httpUrl)).toEqual({ general: 0, advanced: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("the Grafana dashboard only queries metrics that /metrics exposes", async () => {
  const server = await world.server();
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const dashboard = readFileSync(
    new URL("../../../deploy/grafana/beckon-dashboard.json", import.meta.url),
    "utf8",
  );
  const exprs = [...dashboard.matchAll(/"expr": "([^"]+)"/g)].map((m) => m[1] ?? "");
  expect(exprs.length).toBeGreaterThan(10);
  const names = new Set(
    exprs.flatMap((expr) =>
      [...expr.matchAll(/\b((?:beckon|nodejs|process)_\w+?)(?:_bucket|_sum|_count)?\{/g)].map(
        (m) => m[1],
      ),
    ),
  );
  for (const wanted of [
    "beckon_devices_online",
    "beckon_ring_latency_seconds",
    "beckon_store_commit_seconds",
    "nodejs_eventloop_lag_p99_seconds",
  ]) {
    expect(names).toContain(wanted);
  }
  for (const name of names) expect(text, name).toContain(`# TYPE ${name} `);
});

it("log lines redact tokens and secrets, at the top level and one object down", () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ logLevel: "info", logFormat: "json" }, sink);
  log.info({ userID: "alice", token: "eyJhbGciOi.secret.part" }, "login refused");
  log.info({ request: { token: "eyJ.x.y", secret: "s3cr3t-value" } }, "nested");
  log.debug("below the level");
  expect(lines).toHaveLength(2);
  const joined = lines.join("");
  expect(joined).not.toContain("eyJ");
  expect(joined).not.toContain("s3cr3t-value");
  expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
    level: 30,
    name: "beckon",
    userID: "alice",
    token: "[redacted]",
    msg: "login refused",
  });
});

it("logs are pretty only in a terminal unless a format is forced", () => {
  expect(usePrettyLogs("auto", true)).toBe(true);
  expect(usePrettyLogs("auto", false)).toBe(false);
  expect(usePrettyLogs("json", true)).toBe(false);
  expect(usePrettyLogs("pretty", false)).toBe(true);
});
