// The operator routes over HTTP against a real node: console sign-in (admin keys only, a cookie
// that is HttpOnly/SameSite=Strict and never the key, CSRF header and read-only sessions for
// actions, sign-out, revocation), calls by state, a user's devices, the live event stream, and
// the integrations' health. The key never shows in a log line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CallUserState } from "@beckon/protocol";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteApiKeyStore } from "../src/api/api-key-store.js";
import type { ConsoleSnapshot } from "../src/console/console-feed.js";
import { openSqlite } from "../src/sqlite/module-schema.js";
import { useWorld } from "./support/world.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
const world = useWorld();

async function node() {
  const dir = mkdtempSync(join(tmpdir(), "beckon-console-api-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, "beckon.db");
  const db = openSqlite(store);
  const keys = new SqliteApiKeyStore(db);
  const admin = (await keys.create("ops", ["admin"], Date.now())).key;
  const writer = (await keys.create("backend", ["write"], Date.now())).key;
  db.close();
  const lines: string[] = [];
  const logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const server = await world.server({ store, services: { logger } });
  return { server, admin, writer, lines };
}

/** `bk_<16-char id>_<secret>`; both parts may contain `_`. */
function keyParts(key: string): { id: string; secret: string } {
  const match = /^bk_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{32})$/.exec(key);
  if (!match) throw new Error(`not an API key: ${key}`);
  return { id: match[1] as string, secret: match[2] as string };
}

const keySecret = (key: string) => keyParts(key).secret;

async function signIn(httpUrl: string, key: string, actions = false) {
  const response = await fetch(`${httpUrl}/api/console/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, actions }),
  });
  const cookie = response.headers.get("set-cookie") ?? "";
  return { response, cookie, token: /^beckon_console=([^;]*)/.exec(cookie)?.[1] ?? "" };
}

describe("console sign-in", () => {
  it("exchanges an admin key for an HttpOnly SameSite=Strict cookie; other keys are refused", async () => {
    const { server, admin, writer, lines } = await node();
    const refused = await signIn(server.httpUrl, writer);
    expect(refused.response.status).toBe(403);
    expect(refused.cookie).toBe("");
    expect((await signIn(server.httpUrl, "bk_nonsense")).response.status).toBe(401);

    const { response, cookie, token } = await signIn(server.httpUrl, admin);
    expect(response.status).toBe(200);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/api/);
    expect(token).not.toBe("");
    expect(cookie).not.toContain(admin);
    expect(cookie).not.toContain(keySecret(admin));
    const me = await fetch(`${server.httpUrl}/api/console/session`, {
      headers: { cookie: `beckon_console=${token}` },
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ keyName: "ops", actions: false });
    // The API accepts the cookie as it would the key.
    const keys = await fetch(`${server.httpUrl}/api/keys`, {
      headers: { cookie: `beckon_console=${token}` },
    });
    expect(keys.status).toBe(200);
    // A sign-in the schema refuses, with the key in it, is logged without it too.
    const malformed = await fetch(`${server.httpUrl}/api/console/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: admin, actions: "yes please" }),
    });
    expect(malformed.status).toBe(400);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("")).not.toContain(keySecret(admin));
  });

  it("refuses actions without the CSRF header and in a read-only session", async () => {
    const { server, admin } = await node();
    const alice = await world.device(server, "alice");
    await world.device(server, "bob");
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    const cancel = (token: string, headers: Record<string, string> = {}) =>
      fetch(`${server.httpUrl}/api/calls/${callID}/cancel`, {
        method: "POST",
        headers: {
          cookie: `beckon_console=${token}`,
          "content-type": "application/json",
          ...headers,
        },
        body: JSON.stringify({ userID: "alice" }),
      });
    const readOnly = await signIn(server.httpUrl, admin);
    const refused = await cancel(readOnly.token, { "x-beckon-console": "1" });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/read-only/);
    const acting = await signIn(server.httpUrl, admin, true);
    const forged = await cancel(acting.token);
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { detail: string }).detail).toMatch(/x-beckon-console/);
    const calls = await fetch(`${server.httpUrl}/api/calls?state=ringing`, {
      headers: { cookie: `beckon_console=${acting.token}` },
    });
    expect(((await calls.json()) as { calls: unknown[] }).calls).toHaveLength(1);
    expect((await cancel(acting.token, { "x-beckon-console": "1" })).status).toBe(200);
  });

  it("ends with sign-out's cleared cookie, a forged token, or the key's revocation", async () => {
    const { server, admin } = await node();
    const { token } = await signIn(server.httpUrl, admin, true);
    const out = await fetch(`${server.httpUrl}/api/console/session`, { method: "DELETE" });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^beckon_console=; .*Max-Age=0/);
    const forged = `${token.slice(0, -4)}AAAA`;
    const bad = await fetch(`${server.httpUrl}/api/stats`, {
      headers: { cookie: `beckon_console=${forged}` },
    });
    expect(bad.status).toBe(401);
    const keyID = keyParts(admin).id;
    const revoke = await fetch(`${server.httpUrl}/api/keys/${keyID}`, {
      method: "DELETE",
      headers: { cookie: `beckon_console=${token}`, "x-beckon-console": "1" },
    });
    expect(revoke.status).toBe(204);
    await expect
      .poll(
        async () =>
          (
            await fetch(`${server.httpUrl}/api/stats`, {
              headers: { cookie: `beckon_console=${token}` },
            })
          ).status,
      )
      .toBe(401);
  });
});

describe("operator routes", () => {
  it("list calls by state, a user's devices, and stream snapshots as they change", async () => {
    const { server, admin } = await node();
    const auth = { authorization: `Bearer ${admin}` };
    const stream = await fetch(`${server.httpUrl}/api/events`, { headers: auth });
    expect(stream.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    /** The next snapshot event that satisfies `test`. */
    const nextSnapshot = async (test: (snapshot: ConsoleSnapshot) => boolean) => {
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (event.startsWith("event: snapshot") && data) {
            const snapshot = JSON.parse(data) as ConsoleSnapshot;
            if (test(snapshot)) return snapshot;
          }
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffered += decoder.decode(value, { stream: true });
      }
    };
    const idle = await nextSnapshot(() => true);
    expect(idle).toMatchObject({ calls: { ringing: 0, started: 0 } });

    const alice = await world.device(server, "alice", { deviceID: "alice-desk" });
    const phone = await world.device(server, "bob", { deviceID: "phone" });
    await world.device(server, "bob", { deviceID: "laptop" });
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    const ringing = await nextSnapshot((s) => s.calls.ringing === 1);
    expect(ringing).toMatchObject({ devicesOnline: 3, rings: 1 });
    expect(ringing.liveCalls[0]?.callID).toBe(callID);

    const devices = (await (
      await fetch(`${server.httpUrl}/api/users/bob/devices`, { headers: auth })
    ).json()) as { devices: Array<{ deviceID: string; online: boolean; nodeID: string }> };
    expect(devices.devices.map((d) => d.deviceID).sort()).toEqual(["laptop", "phone"]);
    expect(devices.devices.every((d) => d.online && d.nodeID.length > 0)).toBe(true);

    await phone.waitFor("callInvitationReceived", (e) => e.callID === callID);
    await phone.client.callAccept(callID, {});
    const answered = await nextSnapshot((s) => s.calls.ringing === 0);
    expect(answered).toMatchObject({ calls: { ringing: 0 } });
    expect(answered.latency.count).toBeGreaterThan(0);
    const started = await fetch(`${server.httpUrl}/api/calls?state=recent`, { headers: auth });
    const list = (await started.json()) as { calls: Array<{ callID: string; members: unknown[] }> };
    expect(list.calls[0]?.callID).toBe(callID);
    expect(list.calls[0]?.members).toContainEqual({ userID: "bob", state: CallUserState.Accepted });
    await reader.cancel();
  });

  it("stream a watched call's every step: sends, receipts, the other devices told", async () => {
    const { server, admin } = await node();
    const auth = { authorization: `Bearer ${admin}` };
    const alice = await world.device(server, "alice", { deviceID: "alice-desk" });
    const phone = await world.device(server, "bob", { deviceID: "phone" });
    await world.device(server, "bob", { deviceID: "laptop" });
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    const stream = await fetch(`${server.httpUrl}/api/events?callID=${callID}`, { headers: auth });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    interface Item {
      at: number;
      kind: string;
      userID?: string;
      deviceID?: string;
      detail: { event?: string; users?: Array<{ userID: string; state: number }> };
    }
    /** The next `call` event whose timeline satisfies `test`. */
    const nextCall = async (test: (timeline: Item[]) => boolean) => {
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (event.startsWith("event: call") && data) {
            const call = JSON.parse(data) as { callID: string; timeline: Item[] };
            expect(call.callID).toBe(callID);
            if (test(call.timeline)) return call.timeline;
          }
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffered += decoder.decode(value, { stream: true });
      }
    };
    const received = (timeline: Item[], device: string) =>
      timeline.some((item) => item.kind === "invitation.received" && item.deviceID === device);
    await nextCall((timeline) => received(timeline, "phone") && received(timeline, "laptop"));
    await phone.client.callAccept(callID, {});
    const accepted = (item: Item) =>
      item.kind === "device.told" &&
      item.detail.event === "callUserStateChanged" &&
      (item.detail.users ?? []).some(
        (user) => user.userID === "bob" && user.state === CallUserState.Accepted,
      );
    const timeline = await nextCall((items) => items.some(accepted));
    // Each device told, by the server's record, with the time it was told.
    const told = timeline.filter(accepted);
    expect(told.map((item) => `${item.userID}/${item.deviceID}`).sort()).toEqual([
      "alice/alice-desk",
      "bob/laptop",
      "bob/phone",
    ]);
    const acceptedAt = timeline.find((item) => item.kind === "member.accepted")?.at ?? Infinity;
    expect(told.every((item) => item.at >= acceptedAt)).toBe(true);
    // The same record GET /calls/{id} shows; a member's own callTimeline leaves it out.
    const view = (await (
      await fetch(`${server.httpUrl}/api/calls/${callID}`, { headers: auth })
    ).json()) as { timeline: Item[] };
    expect(view.timeline.filter(accepted)).toHaveLength(3);
    const own = await alice.client.callTimeline(callID);
    expect(own.entries.some((entry) => entry.kind === "device.told")).toBe(false);
    await reader.cancel();
  });

  it("report each webhook endpoint's state and queue, and need the admin scope", async () => {
    const { server, admin, writer } = await node();
    const added = await fetch(`${server.httpUrl}/api/webhooks/endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      // Nothing listens there: deliveries fail and wait.
      body: JSON.stringify({ url: "http://127.0.0.1:9/hooks" }),
    });
    expect(added.status).toBe(201);
    const alice = await world.device(server, "alice");
    await world.device(server, "bob");
    await alice.client.callInvite(["bob"], { timeout: 30 });
    const health = async () =>
      (await (
        await fetch(`${server.httpUrl}/api/integrations`, {
          headers: { authorization: `Bearer ${admin}` },
        })
      ).json()) as {
        webhooks: Array<{ url: string; queueDepth: number; lastError: unknown; state: string }>;
      };
    await expect.poll(async () => (await health()).webhooks[0]?.lastError).not.toBeNull();
    const endpoint = (await health()).webhooks[0];
    expect(endpoint?.url).toBe("http://127.0.0.1:9/hooks");
    expect(endpoint?.queueDepth).toBeGreaterThan(0);
    const refused = await fetch(`${server.httpUrl}/api/integrations`, {
      headers: { authorization: `Bearer ${writer}` },
    });
    expect(refused.status).toBe(403);
  });
});
