// Each push provider against a local stand-in for its service: the wire format, the auth the
// service checks, and the service's real refusal shapes.
import { createECDH, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallInvitationMode } from "@beckon/protocol";
import { decrypt } from "http_ece";
import { decodeProtectedHeader, importJWK, importSPKI, jwtVerify } from "jose";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { ApnsProvider } from "../src/push/apns-provider.js";
import { FcmProvider } from "../src/push/fcm-provider.js";
import { HttpPushProvider } from "../src/push/http-push-provider.js";
import type { PushMessage, PushRegistration, PushTarget } from "../src/push/push-types.js";
import { loadOrCreateVapidKeys } from "../src/push/vapid-keys.js";
import { WebPushProvider } from "../src/push/web-push-provider.js";
import { HttpReceiver } from "./support/http-receiver.js";

const NOW = 1_800_000_000_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<HttpReceiver> {
  const started = await new HttpReceiver().start();
  cleanups.push(() => started.stop());
  return started;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "beckon-push-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function message(overrides: Partial<PushMessage> = {}): PushMessage {
  return {
    kind: "invite",
    callID: "Zm9vYmFyYmF6cXV4MTIzNA",
    caller: "alice",
    operatedUserID: "alice",
    mode: CallInvitationMode.General,
    deadline: NOW + 30_000,
    sentAt: NOW,
    title: "Alice is calling",
    content: "Video call",
    payload: '{"room":"r1"}',
    resourcesID: "call-sound",
    voIPConfig: { iOSVoIPHandleType: 1, iOSVoIPHandleValue: "Alice", iOSVoIPHasVideo: true },
    ...overrides,
  };
}

function registration(target: PushTarget): PushRegistration {
  return { id: "reg-1", userID: "bob", deviceID: "bob-phone", target, createdAt: NOW };
}

describe("Web Push", () => {
  function subscriber(endpoint: string) {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const target: PushTarget = {
      provider: "webpush",
      endpoint,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    };
    return { ecdh, auth, target };
  }

  it("sends an RFC 8291 body the subscription's keys decrypt, with a VAPID JWT for the origin", async () => {
    const service = await receiver();
    const keys = loadOrCreateVapidKeys(tempDir());
    const provider = new WebPushProvider({
      keys,
      subject: "mailto:ops@example.com",
      clock: () => NOW,
    });
    const { ecdh, auth, target } = subscriber(`${service.url}/push/sub-1`);

    const result = await provider.send(registration(target), message());

    expect(result).toEqual({ ok: true, status: 201 });
    const [request] = await service.waitFor(1);
    expect(request?.path).toBe("/push/sub-1");
    expect(request?.headers["content-encoding"]).toBe("aes128gcm");
    expect(request?.headers.ttl).toBe("30");
    expect(request?.headers.urgency).toBe("high");
    expect(request?.headers.topic).toBe("Zm9vYmFyYmF6cXV4MTIzNA");
    const plain = decrypt(request?.body as Buffer, {
      version: "aes128gcm",
      privateKey: ecdh,
      authSecret: auth,
    });
    expect(JSON.parse(plain.toString("utf8"))).toEqual(message());

    // RFC 8292: "vapid t=<JWT>, k=<public key>", the JWT signed by that key for this origin.
    const match = /^vapid t=([^,]+), k=(.+)$/.exec(String(request?.headers.authorization));
    expect(match?.[2]).toBe(keys.publicKey);
    const point = Buffer.from(keys.publicKey, "base64url");
    const publicKey = await importJWK(
      {
        kty: "EC",
        crv: "P-256",
        x: point.subarray(1, 33).toString("base64url"),
        y: point.subarray(33, 65).toString("base64url"),
      },
      "ES256",
    );
    const { payload } = await jwtVerify(match?.[1] as string, publicKey, {
      audience: service.url,
      subject: "mailto:ops@example.com",
    });
    expect(payload.exp).toBeTypeOf("number");
  });

  it("reports 410 Gone as an expired subscription and 500 as worth a retry", async () => {
    const service = await receiver();
    const provider = new WebPushProvider({
      keys: loadOrCreateVapidKeys(tempDir()),
      subject: "mailto:ops@example.com",
    });
    const { target } = subscriber(`${service.url}/push/gone`);
    service.responder = () => ({
      status: 410,
      body: "push subscription has unsubscribed or expired.",
    });
    expect(await provider.send(registration(target), message())).toMatchObject({
      ok: false,
      status: 410,
      expired: true,
      retryable: false,
    });
    service.responder = () => ({ status: 500, body: "oops" });
    expect(await provider.send(registration(target), message())).toMatchObject({
      ok: false,
      status: 500,
      expired: false,
      retryable: true,
    });
  });

  it("keeps its VAPID keys in the data dir across starts, readable by the owner only", () => {
    const dir = tempDir();
    const first = loadOrCreateVapidKeys(dir);
    const second = loadOrCreateVapidKeys(dir);
    expect(second).toEqual(first);
    expect(Buffer.from(first.publicKey, "base64url")).toHaveLength(65);
    expect(statSync(join(dir, "vapid.json")).mode & 0o077).toBe(0);
  });
});

describe("FCM HTTP v1", () => {
  function serviceAccount(tokenURI: string) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      account: {
        project_id: "beckon-test",
        client_email: "push@beckon-test.iam.gserviceaccount.com",
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        token_uri: tokenURI,
      },
      publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
  }

  /** Google's token endpoint and FCM's send endpoint, with the checks both make. */
  async function google() {
    const service = await receiver();
    const { account, publicKey } = serviceAccount(`${service.url}/token`);
    const issued: string[] = [];
    const state = { sendReply: undefined as undefined | { status: number; body: string } };
    service.responder = async (request) => {
      if (request.path === "/token") {
        const form = new URLSearchParams(request.text);
        expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
        const { payload } = await jwtVerify(
          form.get("assertion") as string,
          await importSPKI(publicKey, "RS256"),
          { issuer: account.client_email, audience: `${service.url}/token` },
        );
        expect(payload.scope).toBe("https://www.googleapis.com/auth/firebase.messaging");
        const token = `ya29.test-${issued.length}`;
        issued.push(token);
        return {
          status: 200,
          body: JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }),
        };
      }
      const reply = state.sendReply;
      if (reply) return reply;
      if (request.headers.authorization !== `Bearer ${issued.at(-1)}`) {
        return {
          status: 401,
          body: JSON.stringify({
            error: {
              code: 401,
              message: "Request had invalid authentication credentials.",
              status: "UNAUTHENTICATED",
            },
          }),
        };
      }
      return { status: 200, body: JSON.stringify({ name: "projects/beckon-test/messages/0:1" }) };
    };
    return { service, account, issued, state };
  }

  it("exchanges the service account's JWT for a token and sends a high-priority data message", async () => {
    const { service, account, issued } = await google();
    const provider = new FcmProvider({
      serviceAccount: account,
      endpoint: service.url,
      clock: () => NOW,
    });

    const first = await provider.send(
      registration({ provider: "fcm", token: "fcm-token-1" }),
      message(),
    );
    const second = await provider.send(
      registration({ provider: "fcm", token: "fcm-token-1" }),
      message({ kind: "cancel", deadline: 0 }),
    );

    expect(first).toEqual({
      ok: true,
      status: 200,
      providerMessageID: "projects/beckon-test/messages/0:1",
    });
    expect(second.ok).toBe(true);
    expect(issued).toHaveLength(1);
    const sends = service.requests.filter((request) => request.path !== "/token");
    expect(sends.map((request) => request.path)).toEqual([
      "/v1/projects/beckon-test/messages:send",
      "/v1/projects/beckon-test/messages:send",
    ]);
    expect(JSON.parse(sends[0]?.text as string)).toEqual({
      message: {
        token: "fcm-token-1",
        data: {
          beckon: "1",
          kind: "invite",
          callID: "Zm9vYmFyYmF6cXV4MTIzNA",
          caller: "alice",
          operatedUserID: "alice",
          mode: "0",
          deadline: String(NOW + 30_000),
          sentAt: String(NOW),
          title: "Alice is calling",
          content: "Video call",
          payload: '{"room":"r1"}',
          resourcesID: "call-sound",
          voIPConfig: '{"iOSVoIPHandleType":1,"iOSVoIPHandleValue":"Alice","iOSVoIPHasVideo":true}',
        },
        android: { priority: "HIGH", ttl: "30s", collapse_key: "Zm9vYmFyYmF6cXV4MTIzNA" },
      },
    });
  });

  it("gets a new access token once when FCM answers 401", async () => {
    const { service, account, issued } = await google();
    const provider = new FcmProvider({ serviceAccount: account, endpoint: service.url });
    await provider.send(registration({ provider: "fcm", token: "t" }), message());
    issued.push("ya29.rotated-elsewhere"); // the cached token no longer matches

    const result = await provider.send(registration({ provider: "fcm", token: "t" }), message());

    expect(result.ok).toBe(true);
    expect(issued).toHaveLength(3);
  });

  it("reports UNREGISTERED as expired and QUOTA_EXCEEDED as worth a retry", async () => {
    const { service, account, state } = await google();
    const provider = new FcmProvider({ serviceAccount: account, endpoint: service.url });
    state.sendReply = {
      status: 404,
      body: JSON.stringify({
        error: {
          code: 404,
          message: "Requested entity was not found.",
          status: "NOT_FOUND",
          details: [
            {
              "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
              errorCode: "UNREGISTERED",
            },
          ],
        },
      }),
    };
    expect(await provider.send(registration({ provider: "fcm", token: "old" }), message())).toEqual(
      {
        ok: false,
        status: 404,
        reason: "UNREGISTERED",
        expired: true,
        retryable: false,
      },
    );
    state.sendReply = {
      status: 429,
      body: JSON.stringify({
        error: {
          code: 429,
          message: "Quota exceeded",
          status: "RESOURCE_EXHAUSTED",
          details: [
            {
              "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
              errorCode: "QUOTA_EXCEEDED",
            },
          ],
        },
      }),
    };
    expect(
      await provider.send(registration({ provider: "fcm", token: "t" }), message()),
    ).toMatchObject({
      ok: false,
      reason: "QUOTA_EXCEEDED",
      expired: false,
      retryable: true,
    });
  });
});

describe("APNs HTTP/2", () => {
  interface Http2Request {
    headers: http2.IncomingHttpHeaders;
    body: string;
  }

  async function apple(reply: (request: Http2Request) => { status: number; body?: string }) {
    const requests: Http2Request[] = [];
    // h2c: the same HTTP/2 frames as Apple's TLS endpoint, without a certificate to make.
    const server = http2.createServer();
    server.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const request = { headers, body: Buffer.concat(chunks).toString("utf8") };
        requests.push(request);
        const { status, body } = reply(request);
        stream.respond({
          ":status": status,
          "apns-id": "6F1E8A0C-0000-0000-0000-000000000001",
          ...(body ? { "content-type": "application/json" } : {}),
        });
        stream.end(body ?? "");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on("session", (session) => sessions.add(session));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const session of sessions) session.destroy();
          server.close(() => resolve());
        }),
    );
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
  }

  function signingKey() {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return {
      pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      publicKey,
    };
  }

  const TOKEN = "a1".repeat(32);

  it("sends a VoIP push with an ES256 provider token to the .voip topic", async () => {
    const key = signingKey();
    const service = await apple(() => ({ status: 200 }));
    const provider = new ApnsProvider({
      teamID: "TEAM123456",
      keyID: "KEY1234567",
      privateKey: key.pem,
      bundleID: "com.example.app",
      endpoint: service.url,
      clock: () => NOW,
    });
    cleanups.push(() => provider.close());

    const result = await provider.send(
      registration({ provider: "apns", token: TOKEN, voip: true }),
      message(),
    );

    expect(result).toEqual({
      ok: true,
      status: 200,
      providerMessageID: "6F1E8A0C-0000-0000-0000-000000000001",
    });
    const [request] = service.requests;
    expect(request?.headers[":path"]).toBe(`/3/device/${TOKEN}`);
    expect(request?.headers["apns-push-type"]).toBe("voip");
    expect(request?.headers["apns-topic"]).toBe("com.example.app.voip");
    expect(request?.headers["apns-priority"]).toBe("10");
    expect(request?.headers["apns-expiration"]).toBe(String(NOW / 1000 + 30));
    const jwt = String(request?.headers.authorization).replace(/^bearer /, "");
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "ES256", kid: "KEY1234567" });
    const { payload } = await jwtVerify(jwt, key.publicKey, {
      issuer: "TEAM123456",
      currentDate: new Date(NOW),
    });
    expect(payload.iat).toBe(NOW / 1000);
    expect(JSON.parse(request?.body as string)).toEqual({ aps: {}, beckon: message() });
  });

  it("sends an alert with title, body and badge to a non-VoIP token", async () => {
    const service = await apple(() => ({ status: 200 }));
    const provider = new ApnsProvider({
      teamID: "TEAM123456",
      keyID: "KEY1234567",
      privateKey: signingKey().pem,
      bundleID: "com.example.app",
      endpoint: service.url,
    });
    cleanups.push(() => provider.close());

    await provider.send(
      registration({ provider: "apns", token: TOKEN, voip: false }),
      message({ enableBadge: true, badgeIncrement: 1 }),
    );

    const [request] = service.requests;
    expect(request?.headers["apns-push-type"]).toBe("alert");
    expect(request?.headers["apns-topic"]).toBe("com.example.app");
    expect(JSON.parse(request?.body as string).aps).toEqual({
      alert: { title: "Alice is calling", body: "Video call" },
      sound: "default",
      "mutable-content": 1,
      badge: 1,
    });
  });

  it("reports 410 Unregistered and 400 BadDeviceToken as expired, 429 as worth a retry", async () => {
    const replies = [
      { status: 410, body: JSON.stringify({ reason: "Unregistered", timestamp: NOW }) },
      { status: 400, body: JSON.stringify({ reason: "BadDeviceToken" }) },
      { status: 429, body: JSON.stringify({ reason: "TooManyRequests" }) },
    ];
    const service = await apple(() => replies.shift() ?? { status: 500 });
    const provider = new ApnsProvider({
      teamID: "TEAM123456",
      keyID: "KEY1234567",
      privateKey: signingKey().pem,
      bundleID: "com.example.app",
      endpoint: service.url,
    });
    cleanups.push(() => provider.close());
    const target = registration({ provider: "apns", token: TOKEN, voip: true });

    expect(await provider.send(target, message())).toEqual({
      ok: false,
      status: 410,
      reason: "Unregistered",
      expired: true,
      retryable: false,
    });
    expect(await provider.send(target, message())).toMatchObject({
      reason: "BadDeviceToken",
      expired: true,
    });
    expect(await provider.send(target, message())).toMatchObject({
      reason: "TooManyRequests",
      expired: false,
      retryable: true,
    });
    // All three on one connection, as Apple asks of providers.
    expect(service.requests).toHaveLength(3);
  });
});

describe("generic HTTP push", () => {
  it("POSTs the registration and message signed per Standard Webhooks", async () => {
    const gateway = await receiver();
    gateway.responder = () => ({ status: 202 });
    const secret = `whsec_${randomBytes(24).toString("base64")}`;
    const provider = new HttpPushProvider({ url: `${gateway.url}/beckon-push`, secret });

    const result = await provider.send(
      registration({ provider: "http", token: "opaque-1" }),
      message(),
    );

    expect(result).toEqual({ ok: true, status: 202 });
    const [request] = await gateway.waitFor(1);
    const verified = new Webhook(secret).verify(request?.text as string, {
      "webhook-id": String(request?.headers["webhook-id"]),
      "webhook-timestamp": String(request?.headers["webhook-timestamp"]),
      "webhook-signature": String(request?.headers["webhook-signature"]),
    });
    expect(verified).toEqual({
      type: "push",
      registration: { id: "reg-1", userID: "bob", deviceID: "bob-phone", token: "opaque-1" },
      message: message(),
    });
    expect(() =>
      new Webhook(`whsec_${randomBytes(24).toString("base64")}`).verify(request?.text as string, {
        "webhook-id": String(request?.headers["webhook-id"]),
        "webhook-timestamp": String(request?.headers["webhook-timestamp"]),
        "webhook-signature": String(request?.headers["webhook-signature"]),
      }),
    ).toThrow();
  });

  it("reports 410 from the gateway as an expired registration", async () => {
    const gateway = await receiver();
    gateway.responder = () => ({ status: 410, body: "gone" });
    const provider = new HttpPushProvider({
      url: gateway.url,
      secret: `whsec_${randomBytes(24).toString("base64")}`,
    });
    expect(await provider.send(registration({ provider: "http", token: "x" }), message())).toEqual({
      ok: false,
      status: 410,
      reason: "gone",
      expired: true,
      retryable: false,
    });
  });
});
