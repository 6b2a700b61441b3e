// Builds a Beckon node from its adapters and starts listening; `close()` stops all of it.
import type { AddressInfo } from "node:net";
import { findMember } from "@beckon/engine";
import { pino } from "pino";
import { LocalBus } from "./bus/local-bus.js";
import { CallService } from "./call-service.js";
import { Gateway } from "./gateway/gateway.js";
import { buildHttpApp } from "./http/http-app.js";
import { checkReadiness } from "./http/readiness.js";
import { resolveOptions, type ServerOptions } from "./server-options.js";
import type { CallStore } from "./store/call-store.js";
import { SqliteCallStore } from "./store/sqlite-call-store.js";

export interface BeckonServer {
  /** The WebSocket URL the SDK connects to. */
  url: string;
  httpUrl: string;
  port: number;
  close(): Promise<void>;
}

function openStore(location: string): CallStore {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new Error("createServer: the PostgreSQL store is not available yet; use a SQLite path");
  }
  return new SqliteCallStore(location);
}

export async function createServer(options: ServerOptions): Promise<BeckonServer> {
  const config = resolveOptions(options);
  if (config.redis) throw new Error("createServer: cluster mode (redis) is not available yet");
  const log = pino({ level: config.logLevel, name: "beckon" });
  const store = openStore(config.store);
  const bus = new LocalBus();
  const calls = new CallService(
    store,
    bus,
    {
      notReceivedCheckMs: config.notReceivedCheckMs,
      callerGraceMs: config.callerGraceMs,
      maxExtendedDataBytes: config.maxExtendedDataBytes,
    },
    log,
  );
  const gateway = new Gateway(config, calls, store, log);
  bus.subscribe((message) => gateway.deliver(message));
  const restored = await calls.restoreTimers();

  const http = await buildHttpApp(
    config,
    {
      onlineUsers: (limit) => gateway.devices.onlineUsers(limit),
      readiness: () => checkReadiness(store, gateway.storeHealth),
      refuseSocket: (remoteAddress) => gateway.refuseSocket(remoteAddress),
      acceptSocket: (socket, remoteAddress) => gateway.accept(socket, remoteAddress),
    },
    log,
  );
  await http.listen({ port: config.port, host: config.host });
  const { port } = http.server.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  log.info({ port, store: config.store, timers: restored }, "beckon listening");

  // Every socket died with the old process: unanswered calls whose caller does not come back
  // within the grace period are cancelled (SPEC §5 "Caller lost").
  // It runs beside serving, handing the event loop back every few calls: the store may answer
  // synchronously, and a long chain of settled promises would starve the sockets.
  let sweeping = true;
  const sweep = (async () => {
    let done = 0;
    for (const callID of await store.startedCallIDs()) {
      if (!sweeping) break;
      if (++done % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      const call = await store.getCall(callID);
      const device = call && findMember(call, call.caller)?.mainDevice;
      if (!call || !device) continue;
      await calls
        .execute(
          callID,
          { type: "deviceLost", actor: { userID: call.caller, deviceID: device } },
          () => !gateway.devices.isOnline(call.caller, device),
        )
        .catch((error: unknown) => log.warn({ err: error, callID }, "restart sweep failed"));
    }
  })().catch((error: unknown) => log.error({ err: error }, "restart sweep stopped"));

  // Ended calls older than the retention are dropped at start and then every hour.
  const purge = () =>
    store
      .purgeEndedBefore(Date.now() - config.retentionMs)
      .then((count) => count > 0 && log.info({ count }, "purged old calls"))
      .catch((error: unknown) => log.warn({ err: error }, "purge failed"));
  await purge();
  const purgeTimer = setInterval(purge, Math.max(1_000, Math.min(config.retentionMs, 3_600_000)));
  purgeTimer.unref();

  let closing: Promise<void> | undefined;
  return {
    url: `ws://${host}:${port}/ws`,
    httpUrl: `http://${host}:${port}`,
    port,
    close: () => {
      closing ??= (async () => {
        clearInterval(purgeTimer);
        sweeping = false;
        gateway.close();
        http.server.closeAllConnections();
        await http.close();
        await sweep;
        await calls.drain();
        calls.stop();
        await bus.close();
        await store.close();
      })();
      return closing;
    },
  };
}
