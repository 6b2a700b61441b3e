// A socket is judged by what it leaves undrained over time, not by what one turn wrote to it:
// prompt readers of large bursts (a login picture, many list pages) get everything, a slow reader
// is closed and none of its later frames run, and shutdown and the silent-socket sweep hand over
// what was written before they close. Real server, real sockets.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "@beckon/protocol";
import { afterEach, expect, it, vi } from "vitest";
import { SqliteApiKeyStore } from "../src/api/api-key-store.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { MemoryStreamBroker } from "../src/streams/memory-stream-broker.js";
import { streamOf } from "../src/streams/stream-broker.js";
import { openRawSocket, type RawSocket } from "./support/raw-socket.js";
import { useWorld } from "./support/world.js";

// Registered before the world's hooks, so it runs after them (after-hooks run last first).
const cleanups: Array<() => void> = [];
afterEach(() => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const world = useWorld();

async function metricsText(httpUrl: string): Promise<string> {
  return (await fetch(`${httpUrl}/metrics`)).text();
}

/** A raw socket logged in as `userID` on `deviceID`. */
async function rawDevice(url: string, userID: string, deviceID: string): Promise<RawSocket> {
  const raw = await openRawSocket(url);
  const token = await world.token(userID);
  const login = await raw.request(
    JSON.stringify({
      id: 1,
      op: "login",
      data: { userID, deviceID, token, protocolVersion: PROTOCOL_VERSION },
    }),
  );
  expect(login.ok).toBe(true);
  return raw;
}

function tcpOf(raw: RawSocket): { pause(): void; resume(): void } {
  return (raw.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

/** A server with a SQLite file and a server API key that may start calls for anyone. */
async function serverWithApi(options: Parameters<typeof world.server>[0] = {}) {
  const dir = mkdtempSync(join(tmpdir(), "beckon-backpressure-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, "beckon.db");
  const db = openSqlite(store);
  const { key } = await new SqliteApiKeyStore(db).create("test", ["write"], Date.now());
  db.close();
  const server = await world.server({
    store,
    devTokens: true,
    apiRateLimit: { burst: 100_000, perSecond: 100_000 },
    ...options,
  });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.httpUrl}/api${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBeLessThan(300);
    return (await response.json()) as { callID: string };
  };
  /**
   * Starts calls from `callers` (one each, they are free) to `callee`, 32 at a time; with
   * `rejectWith`, the callee rejects each with that extendedData.
   */
  const ring = async (
    callers: string[],
    callee: string,
    extendedData: string,
    rejectWith?: string,
  ) => {
    for (let start = 0; start < callers.length; start += 32) {
      await Promise.all(
        callers.slice(start, start + 32).map(async (caller) => {
          const { callID } = await post("/calls", {
            caller,
            invitees: [callee],
            timeout: 600,
            extendedData,
          });
          if (rejectWith !== undefined) {
            await post(`/calls/${callID}/reject`, { userID: callee, extendedData: rejectWith });
          }
        }),
      );
    }
  };
  /** Makes `userIDs` known users (they can be invited before their first login). */
  const register = async (userIDs: string[]) => {
    const response = await fetch(`${server.httpUrl}/api/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ userIDs }),
    });
    expect(response.status).toBeLessThan(300);
  };
  return { server, ring, register };
}

it("a socket closed as too slow runs none of its later frames: its invite rings nobody", async () => {
  const server = await world.server({
    devTokens: true,
    slowReaderMs: 200,
    rateLimit: { burst: 5_000, perSecond: 5_000 },
  });
  const callers = await Promise.all(["c0", "c1", "c2", "c3"].map((u) => world.device(server, u)));
  await (await world.device(server, "reader", { deviceID: "phone" })).client.logout();
  const victim = await world.device(server, "victim");
  const extendedData = "x".repeat(2_000);
  for (let round = 0; round < 25; round++) {
    await Promise.all(
      callers.map(async (caller) => {
        const { callID } = await caller.client.callInvite(["reader"], {
          timeout: 60,
          extendedData,
        });
        await caller.client.callCancel([], callID, {});
      }),
    );
  }
  const raw = await rawDevice(server.url, "reader", "slow");
  const tcp = tcpOf(raw);
  tcp.pause();
  for (let id = 2; id < 302; id++) {
    raw.socket.send(JSON.stringify({ id, op: "queryCallInvitationList", data: { count: 100 } }));
  }
  // Closed as too slow (it cannot read the close frame yet; the node counts the close) ...
  while (
    !(await metricsText(server.httpUrl)).includes(
      'beckon_sockets_closed_total{reason="slow_reader"} 1',
    )
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // ... and what it sends now is read by the server but must not run.
  raw.socket.send(JSON.stringify({ id: 999, op: "callInvite", data: { invitees: ["victim"] } }));
  tcp.resume();
  // 4005 once the reader answers the close; on a machine too busy to answer within the close's
  // grace the node cuts it (1006). Either way the invite sent after the close must not run.
  expect([4005, 1006]).toContain((await raw.closed).code);
  // A later invitation reaches the victim; the reader's never did.
  const { callID } = await callers[0]!.client.callInvite(["victim"], { timeout: 30 });
  await victim.waitFor("callInvitationReceived", (event) => event.callID === callID);
  const inviters = victim.events("callInvitationReceived").map((event) => event.inviter);
  expect(inviters).toEqual(["c0"]);
}, 120_000);

it("a prompt reader asking for ten pages of 100 calls every 100 ms is not closed", async () => {
  const { server, ring, register } = await serverWithApi({
    rateLimit: { burst: 5_000, perSecond: 5_000 },
  });
  await register(["lister"]);
  const callers = Array.from({ length: 1_000 }, (_, i) => `caller${i}`);
  // Each call in a page carries 2 KB from the caller and 2 KB from the lister's reject: ten
  // pages are ~4.4 MB, all written in the turn the ten requests arrive in.
  await ring(callers, "lister", "y".repeat(2_048), "n".repeat(2_048));
  // Walked once from one device, a page at a time: the flag each page starts from.
  const desk = pager(await rawDevice(server.url, "lister", "desk"));
  const startFlags = [0];
  for (let page = 1; page < 10; page++) {
    startFlags.push((await desk.ask(startFlags[page - 1] as number)).data.nextFlag);
  }
  // Then the ten pages at once, five times over, 100 ms apart, reading everything promptly.
  const raw = await rawDevice(server.url, "lister", "tablet");
  const tablet = pager(raw);
  for (let round = 0; round < 5; round++) {
    const started = Date.now();
    const pages = await Promise.all(startFlags.map((flag) => tablet.ask(flag)));
    for (const page of pages) {
      expect(page.ok).toBe(true);
      expect(page.data.callList).toHaveLength(100);
    }
    const pause = 100 - (Date.now() - started);
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  expect(raw.socket.readyState).toBe(raw.socket.OPEN);
  await raw.close();
}, 120_000);

interface PageReply {
  ok: boolean;
  data: { callList: unknown[]; nextFlag: number };
}

/** Asks for list pages on `raw`, matching replies by id (events arrive in between). */
function pager(raw: RawSocket): { ask(nextFlag: number): Promise<PageReply> } {
  const replies = new Map<number, PageReply>();
  const waiters = new Map<number, () => void>();
  let closedWith: number | null = null;
  void raw.closed.then(({ code }) => {
    closedWith = code;
    for (const wake of waiters.values()) wake();
  });
  raw.socket.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as { id?: number };
    if (typeof frame.id !== "number") return;
    replies.set(frame.id, frame as PageReply);
    waiters.get(frame.id)?.();
  });
  let lastID = 1;
  return {
    ask(nextFlag) {
      lastID += 1;
      const id = lastID;
      raw.socket.send(
        JSON.stringify({
          id,
          op: "queryCallInvitationList",
          data: { count: 100, ...(nextFlag > 0 ? { nextFlag } : {}) },
        }),
      );
      return new Promise<PageReply>((resolve, reject) => {
        const done = () => {
          const reply = replies.get(id);
          if (reply) resolve(reply);
          else reject(new Error(`the socket closed with ${closedWith} before reply ${id}`));
        };
        if (replies.has(id)) done();
        else waiters.set(id, done);
      });
    },
  };
}

it("a fresh login gets all of 2 000 pending invitations carrying 2 KB each, without a cut", async () => {
  const { server, ring, register } = await serverWithApi({ callerGraceMs: 3_600_000 });
  await register(["popular"]);
  const callers = Array.from({ length: 2_000 }, (_, i) => `fan${i}`);
  await ring(callers, "popular", "z".repeat(2_048));
  const raw = await openRawSocket(server.url);
  const seen = new Set<string>();
  const allIn = new Promise<void>((resolve) => {
    raw.socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as { ev?: string; data?: { callID?: string } };
      if (frame.ev === "callInvitationReceived" && frame.data?.callID) seen.add(frame.data.callID);
      if (seen.size === 2_000) resolve();
    });
  });
  const token = await world.token("popular");
  raw.socket.send(
    JSON.stringify({
      id: 1,
      op: "login",
      data: { userID: "popular", deviceID: "new", token, protocolVersion: PROTOCOL_VERSION },
    }),
  );
  const closed = raw.closed.then(({ code }) => code);
  const outcome = await Promise.race([allIn.then(() => "all" as const), closed]);
  expect(outcome).toBe("all");
  expect(raw.socket.readyState).toBe(raw.socket.OPEN);
  await raw.close();
}, 120_000);

it("shutdown hands over the frames written in its own tick before closing (1001)", async () => {
  const broker = new MemoryStreamBroker();
  cleanups.push(() => void broker.close());
  const server = await world.server({ devTokens: true, services: { broker } });
  const raw = await rawDevice(server.url, "stayer", "d1");
  const frames: string[] = [];
  raw.socket.on("message", (data) => frames.push(data.toString()));
  // An event published to the device's stream, and the node stops in the same tick.
  void broker.publish([
    {
      stream: streamOf("stayer", "d1"),
      payload: '"ev":"callInvitationCancelled","data":{"callID":"last","inviter":"x"}',
    },
  ]);
  const stopping = server.close();
  expect((await raw.closed).code).toBe(1001);
  await stopping;
  expect(frames.some((frame) => frame.includes('"callID":"last"'))).toBe(true);
});

it("the silent-socket sweep hands over the frames written in its own tick", async () => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
  let skew = 0;
  const broker = new MemoryStreamBroker();
  cleanups.push(() => void broker.close());
  const server = await world.server({
    devTokens: true,
    heartbeatIntervalMs: 1_000,
    services: { broker, clock: () => Date.now() + skew },
  });
  const raw = await rawDevice(server.url, "quiet", "d1");
  const frames: string[] = [];
  raw.socket.on("message", (data) => frames.push(data.toString()));
  void broker.publish([
    {
      stream: streamOf("quiet", "d1"),
      payload: '"ev":"callInvitationCancelled","data":{"callID":"swept","inviter":"x"}',
    },
  ]);
  // Two heartbeat intervals without a frame from it, and the sweep runs in this same tick.
  skew = 3_000;
  vi.advanceTimersByTime(1_000);
  await raw.closed;
  expect(frames.some((frame) => frame.includes('"callID":"swept"'))).toBe(true);
});
