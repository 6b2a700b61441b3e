// A test's servers and devices, all stopped after each test, plus event logs that tests await
// instead of sleeping.

import { callEventNames } from "@beckon/protocol";
import { BeckonClient, type BeckonEventMap, type BeckonEventName } from "@beckon/sdk";
import {
  type BeckonServer,
  type CreateServerOptions,
  createServer,
  signToken,
} from "@beckon/server";
import { afterEach } from "vitest";

export const SECRET = "test-secret-0123456789abcdef";

export interface LoggedEvent<K extends BeckonEventName = BeckonEventName> {
  name: K;
  data: BeckonEventMap[K];
}

const watchedEvents = [...callEventNames, "connectionStateChanged"] as const;

/** One SDK instance (a device) and everything it has been told. */
export class Device {
  readonly log: LoggedEvent[] = [];
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly userID: string,
    readonly client: BeckonClient,
  ) {
    for (const name of watchedEvents) {
      client.on(name, (_client, data) => {
        this.log.push({ name, data } as LoggedEvent);
        for (const wake of this.waiters.splice(0)) wake();
      });
    }
  }

  /** Events of one name (optionally of one call), in arrival order. */
  events<K extends BeckonEventName>(name: K, callID?: string): BeckonEventMap[K][] {
    return this.log
      .filter((entry): entry is LoggedEvent<K> => entry.name === name)
      .map((entry) => entry.data)
      .filter((data) => callID === undefined || (data as { callID?: string }).callID === callID);
  }

  /** Resolves with the first event (already logged or yet to come) that matches. */
  async waitFor<K extends BeckonEventName>(
    name: K,
    match: (data: BeckonEventMap[K]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<BeckonEventMap[K]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events(name).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.userID}: no ${name} matching within ${timeoutMs} ms; got ${JSON.stringify(this.log.map((e) => e.name))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The state of `userID` in `callID` as this device learned it from events. */
  stateOf(callID: string, userID: string): number | undefined {
    let state: number | undefined;
    for (const { name, data } of this.log) {
      if ((data as { callID?: string }).callID !== callID) continue;
      if (
        name === "callInvitationCreated" ||
        name === "callInvitationReceived" ||
        name === "callUserStateChanged"
      ) {
        const list = (data as BeckonEventMap["callUserStateChanged"]).callUserList;
        const entry = list.find((user) => user.userID === userID);
        if (entry) state = entry.state;
      }
    }
    return state;
  }
}

export interface World {
  server(options?: Partial<CreateServerOptions>): Promise<BeckonServer>;
  device(
    server: { url: string },
    userID: string,
    options?: { deviceID?: string; ttlSeconds?: number },
  ): Promise<Device>;
  /** A device that is created but not logged in. */
  client(url: string, deviceID?: string): BeckonClient;
  token(userID: string, ttlSeconds?: number): Promise<string>;
}

/** Call once per test file: registers the after-each cleanup. */
export function useWorld(): World {
  const servers: BeckonServer[] = [];
  const clients: BeckonClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.destroy().catch(() => undefined)));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  const world: World = {
    async server(options = {}) {
      const server = await createServer({
        secret: SECRET,
        logLevel: "silent",
        // The event loop's delay here measures the machine the tests share (servers and clients
        // in one process, other test files beside it), not a node's load: that bound is off
        // unless a test sets it. The bound on pending invitations stays at its default.
        overload: { maxLoopDelayMs: 0 },
        ...options,
      });
      servers.push(server);
      return server;
    },
    client(url, deviceID) {
      const client = new BeckonClient({
        url,
        deviceID,
        reconnect: { minDelayMs: 20, maxDelayMs: 200 },
      });
      clients.push(client);
      return client;
    },
    token(userID, ttlSeconds) {
      return signToken({ secret: SECRET, userID, ttlSeconds });
    },
    async device(server, userID, options = {}) {
      const client = world.client(server.url, options.deviceID);
      const device = new Device(userID, client);
      await client.login(userID, { token: await world.token(userID, options.ttlSeconds) });
      return device;
    },
  };
  return world;
}
