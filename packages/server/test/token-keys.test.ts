// Tokens signed with more than one key: HMAC secrets and public keys (RS256, ES256, EdDSA)
// selected by kid, keys from a JWKS URL, and what is refused (alg none, a kid's key used with
// another algorithm, unknown kids). Rotation keeps devices logged in across a restart.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ConnectionEvent, ConnectionState, ErrorCode } from "@beckon/protocol";
import { type BeckonServer, createServer, signToken } from "@beckon/server";
import { exportJWK, SignJWT, UnsecuredJWT } from "jose";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Device, SECRET, useWorld } from "./support/world.js";

const world = useWorld();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Pair = { privateKey: KeyObject; publicKey: KeyObject; pem: string };

function pair(type: "rsa" | "ec" | "ed25519"): Pair {
  const { privateKey, publicKey } =
    type === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : type === "ec"
        ? generateKeyPairSync("ec", { namedCurve: "P-256" })
        : generateKeyPairSync("ed25519");
  return {
    privateKey,
    publicKey,
    pem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

async function jwt(
  userID: string,
  alg: string,
  key: KeyObject | Uint8Array,
  kid?: string,
  ttlSeconds = 3600,
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg, ...(kid === undefined ? {} : { kid }) })
    .setSubject(userID)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(key);
}

const bytes = (secret: string) => new TextEncoder().encode(secret);

async function loginWith(server: { url: string }, userID: string, token: string) {
  const client = world.client(server.url);
  await client.login(userID, { token });
  return new Device(userID, client);
}

function refused(server: { url: string }, userID: string, token: string, message: RegExp) {
  return expect(world.client(server.url).login(userID, { token })).rejects.toMatchObject({
    code: ErrorCode.TokenInvalid,
    message: expect.stringMatching(message),
  });
}

describe("keys selected by kid", () => {
  const rsa = pair("rsa");
  const ec = pair("ec");
  const ed = pair("ed25519");
  const OTHER_SECRET = "another-secret-0123456789abcdef";
  const keys = {
    secretKeyID: "main",
    tokenKeys: [
      { kid: "rsa-1", publicKey: rsa.pem },
      { kid: "ec-1", publicKey: ec.pem },
      { kid: "ed-1", publicKey: ed.pem },
      { kid: "hmac-2", secret: OTHER_SECRET },
    ],
  };

  it("accepts tokens signed with each configured key, at once", async () => {
    const server = await world.server(keys);
    const alice = await loginWith(
      server,
      "alice",
      await jwt("alice", "RS256", rsa.privateKey, "rsa-1"),
    );
    const bob = await loginWith(server, "bob", await jwt("bob", "ES256", ec.privateKey, "ec-1"));
    await loginWith(server, "carol", await jwt("carol", "EdDSA", ed.privateKey, "ed-1"));
    await loginWith(server, "dan", await jwt("dan", "HS256", bytes(OTHER_SECRET), "hmac-2"));
    await loginWith(server, "erin", await jwt("erin", "HS256", bytes(SECRET), "main"));
    // Without a kid, every key of the token's algorithm is tried (tokens from before kids).
    await loginWith(server, "fay", await jwt("fay", "HS256", bytes(OTHER_SECRET)));
    await loginWith(server, "gus", await jwt("gus", "ES256", ec.privateKey));
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);
  });

  it("refuses alg none, a key used with another algorithm, unknown kids and wrong signatures", async () => {
    const server = await world.server(keys);
    const unsigned = new UnsecuredJWT({})
      .setSubject("mallory")
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .encode();
    await refused(server, "mallory", unsigned, /alg none/);
    // The classic confusion: the RSA public key (which anyone may have) used as an HMAC secret.
    await refused(
      server,
      "mallory",
      await jwt("mallory", "HS256", bytes(rsa.pem), "rsa-1"),
      /algorithm HS256 does not match key "rsa-1" \(RS256\)/,
    );
    await refused(
      server,
      "mallory",
      await jwt("mallory", "ES256", ec.privateKey, "rsa-1"),
      /algorithm ES256 does not match key "rsa-1"/,
    );
    await refused(
      server,
      "mallory",
      await jwt("mallory", "RS256", rsa.privateKey, "rsa-9"),
      /key ID "rsa-9" is unknown/,
    );
    // Signed with a key Beckon does not have, under a kid it does have.
    await refused(
      server,
      "mallory",
      await jwt("mallory", "RS256", pair("rsa").privateKey, "rsa-1"),
      /signature does not match key "rsa-1"/,
    );
    await refused(
      server,
      "mallory",
      await jwt("mallory", "HS384", bytes(SECRET.repeat(2))),
      /algorithm HS384 is not accepted/,
    );
    await refused(server, "mallory", "not a token", /not a JWT/);
    // The same checks guard the server API's login-token routes.
    const api = await fetch(`${server.httpUrl}/api/me/push-registrations`, {
      headers: { authorization: `Bearer ${unsigned}` },
    });
    expect(api.status).toBe(401);
  });

  it("refuses bad key options with a message naming the option", async () => {
    await expect(
      world.server({
        tokenKeys: [
          {
            kid: "x",
            publicKey: rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
          },
        ],
      }),
    ).rejects.toThrow(/tokenKeys\.0\.publicKey: is a private key/);
    await expect(world.server({ tokenKeys: [{ kid: "x" }] })).rejects.toThrow(
      /tokenKeys\.0: needs either secret or publicKey/,
    );
    await expect(
      world.server({
        tokenKeys: [
          { kid: "x", secret: OTHER_SECRET },
          { kid: "x", publicKey: ec.pem },
        ],
      }),
    ).rejects.toThrow(/tokenKeys\.1\.kid: "x" is used twice/);
  });
});

describe("rotating the secret", () => {
  it("keeps logged-in devices logged in across the restarts of a rotation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "beckon-rotation-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const OLD = SECRET;
    const NEW = "the-new-secret-fedcba9876543210";
    const store = join(dir, "beckon.db");
    let server: BeckonServer | undefined;
    cleanups.push(() => server?.close());
    const start = async (options: Parameters<typeof createServer>[0]) => {
      const port: number = server?.port ?? 0;
      await server?.close();
      server = await createServer({ store, port, logLevel: "silent", ...options });
      return server;
    };

    // Before: one secret, tokens without kid.
    let node = await start({ secret: OLD });
    const alice = await world.device(node, "alice", { ttlSeconds: 3600 });
    const bob = await world.device(node, "bob", { ttlSeconds: 3600 });
    const lost: number[] = [];
    for (const device of [alice, bob]) {
      device.client.on("connectionStateChanged", (_client, { state, event }) => {
        if (state === ConnectionState.Disconnected || event === ConnectionEvent.TokenExpired) {
          lost.push(event);
        }
      });
    }
    const reconnected = (device: Device) =>
      new Promise<void>((resolve) => {
        const listener = (_: unknown, { state }: { state: ConnectionState }) => {
          if (state !== ConnectionState.Connected) return;
          device.client.off("connectionStateChanged", listener);
          resolve();
        };
        device.client.on("connectionStateChanged", listener);
      });

    // Step 1: the new secret signs, the old one still verifies (named by a kid of its own).
    let back = Promise.all([reconnected(alice), reconnected(bob)]);
    node = await start({
      secret: NEW,
      secretKeyID: "2026-12",
      tokenKeys: [{ kid: "2026-06", secret: OLD }],
    });
    await back;
    // Devices renew with tokens of the new secret as their old ones near expiry.
    await bob.client.renewToken(
      await signToken({ secret: NEW, userID: "bob", ttlSeconds: 3600, keyID: "2026-12" }),
    );
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);
    await alice.client.callCancel(["bob"], callID, {});

    // Step 2: once no token of the old secret is left, it goes: renewed devices stay.
    await alice.client.renewToken(
      await signToken({ secret: NEW, userID: "alice", ttlSeconds: 3600, keyID: "2026-12" }),
    );
    back = Promise.all([reconnected(alice), reconnected(bob)]);
    node = await start({ secret: NEW, secretKeyID: "2026-12" });
    await back;
    const second = await bob.client.callInvite(["alice"], { timeout: 30 });
    await alice.waitFor("callInvitationReceived", (data) => data.callID === second.callID);
    expect(lost).toEqual([]);
    expect(alice.client.connectionState).toBe(ConnectionState.Connected);
    // And a token of the old secret is now refused.
    await refused(node, "carol", await world.token("carol"), /signature matches none/);
  });
});

/** A JWKS endpoint on a loopback port whose key set and health the test changes. */
async function jwksServer(): Promise<{
  url: string;
  serve: (keys: object[]) => void;
  fail: () => void;
  /** Resolves once `count` more requests have been answered. */
  requests: (count: number) => Promise<void>;
}> {
  let body: string | null = JSON.stringify({ keys: [] });
  let answered = 0;
  const waiters: Array<() => void> = [];
  const server: Server = createHttpServer((_request, response) => {
    response.once("finish", () => {
      answered += 1;
      for (const wake of waiters.splice(0)) wake();
    });
    if (body === null) {
      response.writeHead(503).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    serve: (keys) => {
      body = JSON.stringify({ keys });
    },
    fail: () => {
      body = null;
    },
    requests: async (count) => {
      const target = answered + count;
      while (answered < target) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/** A debug logger whose lines a test can wait for. */
function logWatch() {
  const lines: Array<{ msg: string; keys?: number }> = [];
  const waiters: Array<() => void> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line) as { msg: string; keys?: number });
      }
      for (const wake of waiters.splice(0)) wake();
      done();
    },
  });
  const logger = pino({ level: "debug" }, stream);
  const count = (msg: string, keys?: number) =>
    lines.filter((line) => line.msg === msg && (keys === undefined || line.keys === keys)).length;
  /** Resolves once `msg` (with that many keys, when given) is logged again. */
  const next = async (msg: string, keys?: number) => {
    const after = count(msg, keys);
    while (count(msg, keys) <= after) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { logger, count, next };
}

describe("keys from a JWKS URL", () => {
  it("verifies with the fetched keys, picks up a rotation, and keeps the last good keys when a fetch fails", async () => {
    const first = pair("rsa");
    const second = pair("ec");
    const jwk = async (key: Pair, kid: string, alg: string) => ({
      ...(await exportJWK(key.publicKey)),
      kid,
      alg,
      use: "sig",
    });
    const endpoint = await jwksServer();
    endpoint.serve([await jwk(first, "k1", "RS256")]);
    const log = logWatch();
    const server = await world.server({
      tokenJwksUrl: endpoint.url,
      tokenJwksRefreshSeconds: 1,
      services: { logger: log.logger },
    });
    const alice = await loginWith(
      server,
      "alice",
      await jwt("alice", "RS256", first.privateKey, "k1"),
    );
    await refused(
      server,
      "bob",
      await jwt("bob", "ES256", second.privateKey, "k2"),
      /key ID "k2" is unknown/,
    );
    await refused(
      server,
      "bob",
      await jwt("bob", "ES256", second.privateKey, "k1"),
      /does not match key "k1"/,
    );

    // The issuer adds a key: the next refresh brings it in.
    endpoint.serve([await jwk(first, "k1", "RS256"), await jwk(second, "k2", "ES256")]);
    await log.next("JWKS fetched", 2);
    const bob = await loginWith(server, "bob", await jwt("bob", "ES256", second.privateKey, "k2"));
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);

    // The endpoint fails: the keys fetched last stay in use.
    endpoint.fail();
    await log.next("fetching the JWKS failed: the keys fetched last stay in use");
    // Long enough failing that a cache kept only for one refresh period would have lapsed.
    await endpoint.requests(2);
    await loginWith(server, "carol", await jwt("carol", "ES256", second.privateKey, "k2"));
    await loginWith(server, "dan", await jwt("dan", "RS256", first.privateKey, "k1"));

    // Back, without k1: its tokens are refused from then on.
    endpoint.serve([await jwk(second, "k2", "ES256")]);
    await log.next("JWKS fetched again: its keys are in use", 1);
    await refused(
      server,
      "erin",
      await jwt("erin", "RS256", first.privateKey, "k1"),
      /key ID "k1" is unknown/,
    );
    expect(log.count("fetching the JWKS failed: the keys fetched last stay in use")).toBe(1);
  });
});
