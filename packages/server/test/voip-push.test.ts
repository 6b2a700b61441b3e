// ZIM's VoIP push settings from the SDK to Apple: an invitation whose pushConfig carries
// `voIPConfig` (iOS CallKit's handle and video flag) reaches an offline iOS device registered
// with a PushKit token as `apns-push-type: voip` on the `<bundle>.voip` topic, with the settings
// in the payload for the app to report the call to CallKit.
import { generateKeyPairSync } from "node:crypto";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { ZIMCXHandleType } from "@beckon/protocol";
import { createServer } from "@beckon/server";
import { afterEach, expect, it } from "vitest";
import { SECRET, useWorld } from "./support/world.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const world = useWorld();

interface AppleRequest {
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** Apple's push endpoint over h2c: the same HTTP/2 requests, without a certificate. */
async function apple(): Promise<{ url: string; requests: AppleRequest[] }> {
  const requests: AppleRequest[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      requests.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
      stream.respond({ ":status": 200, "apns-id": "6F1E8A0C-0000-0000-0000-000000000001" });
      stream.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

it("an SDK invite's voIPConfig goes to a PushKit token as a VoIP push with the CallKit settings", async () => {
  const service = await apple();
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const server = await createServer({
    secret: SECRET,
    logLevel: "silent",
    push: {
      apns: {
        teamID: "TEAM123456",
        keyID: "KEY1234567",
        privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        bundleID: "com.example.app",
        endpoint: service.url,
      },
    },
  });
  cleanups.push(() => server.close());

  // Bob's iPhone signed in once, registered its PushKit token, and its app was killed.
  const bob = await world.device(server, "bob", { deviceID: "bobs-iphone" });
  const token = "a1".repeat(32);
  const registered = await fetch(`${server.httpUrl}/api/me/push-registrations`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${await world.token("bob")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({
      deviceID: "bobs-iphone",
      target: { provider: "apns", token, voip: true },
    }),
  });
  expect(registered.status).toBe(201);
  await bob.client.logout();

  const alice = await world.device(server, "alice");
  const voIPConfig = {
    iOSVoIPHandleType: ZIMCXHandleType.EmailAddress,
    iOSVoIPHandleValue: "alice@example.com",
    iOSVoIPHasVideo: true,
  };
  const { callID } = await alice.client.callInvite(["bob"], {
    timeout: 30,
    pushConfig: { title: "Alice", content: "Video call", payload: '{"room":7}', voIPConfig },
  });

  await expect.poll(() => service.requests.length).toBe(1);
  const [request] = service.requests;
  expect(request?.headers[":path"]).toBe(`/3/device/${token}`);
  expect(request?.headers["apns-push-type"]).toBe("voip");
  expect(request?.headers["apns-topic"]).toBe("com.example.app.voip");
  const body = JSON.parse(request?.body ?? "{}");
  expect(body.beckon).toMatchObject({
    kind: "invite",
    callID,
    caller: "alice",
    payload: '{"room":7}',
    voIPConfig,
  });
});

it("a voIPConfig with a handle type CallKit does not have is refused, and nothing is called", async () => {
  const server = await world.server();
  await world.device(server, "bob");
  const alice = await world.device(server, "alice");
  const pushConfig = {
    title: "Alice",
    content: "Call",
    payload: "",
    voIPConfig: { iOSVoIPHandleType: 7 as ZIMCXHandleType },
  };
  await expect(alice.client.callInvite(["bob"], { timeout: 30, pushConfig })).rejects.toMatchObject(
    { code: 6000001 },
  );
  const { callList } = await alice.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
  expect(callList).toEqual([]);
});
