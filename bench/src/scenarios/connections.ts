// Scenario 3: what an idle logged-in device costs the server (RSS and heap), how fast devices
// log in, and the server's CPU while they sit idle (heartbeats only), beside baselines holding
// the same number of idle sockets.
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { SystemName } from "../load/call-peers.js";
import { CpuMeter, rssBytes } from "../proc-stats.js";
import type { MemoryReport } from "../servers/server-probes.js";
import {
  deviceLoadScript,
  type RunningServer,
  sleep,
  startServer,
  systemLabels,
} from "../servers-under-test.js";

export interface ConnectionRow {
  system: SystemName;
  label: string;
  devices: number;
  loadProcesses: number;
  failures: number;
  firstError: string | null;
  /** Devices connected (and, for Beckon, logged in) per second, all load processes together. */
  loginsPerSecond: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerDeviceBytes: number;
  heapPerDeviceBytes: number;
  idleCpuPercent: number;
}

async function measure(
  system: SystemName,
  devices: number,
  config: BenchConfig["connections"],
  workDir: string,
): Promise<ConnectionRow> {
  let server: RunningServer | undefined;
  const loads: BenchChild[] = [];
  try {
    server = await startServer(system, workDir);
    const pid = server.child.pid;
    await sleep(300);
    const before = await server.child.call<MemoryReport>("memory");
    const rssBefore = rssBytes(pid);
    const processes = Math.ceil(devices / config.devicesPerProcess);
    for (let i = 0; i < processes; i++) {
      loads.push((await BenchChild.start(`device load ${i}`, deviceLoadScript)).child);
    }
    const shares = loads.map((_, i) => {
      const from = Math.floor((i * devices) / processes);
      const to = Math.floor(((i + 1) * devices) / processes);
      return Array.from({ length: to - from }, (_, k) => `d${from + k}`);
    });
    const target = server.target;
    await Promise.all(loads.map((load, i) => load.call("mint", { target, userIDs: shares[i] })));
    const started = performance.now();
    const connected = await Promise.all(
      loads.map((load, i) =>
        load.call<{ ms: number; failures: number; firstError: string | null }>("connect", {
          target,
          userIDs: shares[i],
          concurrency: config.loginConcurrencyPerProcess,
        }),
      ),
    );
    const elapsedMs = performance.now() - started;
    await sleep(config.settleMs);
    const after = await server.child.call<MemoryReport>("memory");
    const rssAfter = rssBytes(pid);
    const meter = new CpuMeter([pid]);
    await sleep(config.idleWindowMs);
    const [idleCpu] = meter.read();
    const failures = connected.reduce((sum, c) => sum + c.failures, 0);
    const held = devices - failures;
    return {
      system,
      label: systemLabels[system],
      devices,
      loadProcesses: processes,
      failures,
      firstError: connected.find((c) => c.firstError)?.firstError ?? null,
      loginsPerSecond: held / (elapsedMs / 1000),
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      rssPerDeviceBytes: (rssAfter - rssBefore) / held,
      heapPerDeviceBytes: (after.heapUsed - before.heapUsed) / held,
      idleCpuPercent: idleCpu ?? Number.NaN,
    };
  } finally {
    await stopAll([...loads, server?.child]);
  }
}

export async function runConnections(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean,
): Promise<ConnectionRow[]> {
  const rows: ConnectionRow[] = [];
  for (const devices of config.connections.deviceCounts) {
    for (const system of ["beckon", "ws-relay", "socketio"] as const) {
      if (!selected(system)) continue;
      const row = await measure(system, devices, config.connections, workDir);
      rows.push(row);
      log(
        `  ${row.label}, ${devices} devices: ${(row.rssPerDeviceBytes / 1024).toFixed(1)} KiB RSS each, ${row.loginsPerSecond.toFixed(0)} logins/s`,
      );
    }
  }
  return rows;
}
