// Offline push configured the way an operator does it: `beckon start` flags, BECKON_* variables
// and the config file turn the providers on, the node serves the VAPID key, and a call to a user
// with no device online reaches a local push gateway, signed.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BeckonClient, CallInvitationMode } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, expect, it } from "vitest";
import {
  assertBuilt,
  runBeckon,
  startBeckon,
  stopAll,
  stopBeckon,
} from "./support/beckon-process.js";
import { HttpReceiver } from "./support/http-receiver.js";

const SECRET = "beckon-start-push-test-secret-0123";
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];

beforeAll(assertBuilt);
afterEach(async () => {
  await stopAll();
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "beckon-push-cli-"));
  dirs.push(dir);
  return dir;
}

/** The environment of a shell with no Beckon settings of its own. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("BECKON_") && name !== "NODE_ENV") env[name] = value;
  }
  return { ...env, ...extra };
}

async function webPushKey(httpUrl: string): Promise<{ status: number; publicKey?: string }> {
  const response = await fetch(`${httpUrl}/api/push/web-push-key`);
  const body = (await response.json()) as { publicKey?: string };
  return { status: response.status, ...body };
}

it("in development mode Web Push is on without any setting: the VAPID key is served from the data folder", async () => {
  const data = tempDir();
  const { child, banner, httpUrl } = await startBeckon(
    ["--data", data, "--port", "0", "--log-level", "silent"],
    cleanEnv(),
  );
  expect(banner).toMatch(/Push: +Web Push \(docs\/push\.md\)/);
  const stored = JSON.parse(readFileSync(join(data, "vapid.json"), "utf8")) as {
    publicKey: string;
  };
  expect(await webPushKey(httpUrl)).toEqual({ status: 200, publicKey: stored.publicKey });
  expect(await stopBeckon(child)).toBe(0);
});

it("in production mode Web Push is off until a subject is given", async () => {
  const data = tempDir();
  const env = cleanEnv({ BECKON_SECRET: SECRET });
  const off = await startBeckon(
    ["--production", "--data", data, "--port", "0", "--log-level", "silent"],
    env,
  );
  expect(off.banner).toMatch(/Push: +off/);
  expect((await webPushKey(off.httpUrl)).status).toBe(404);
  expect(await stopBeckon(off.child)).toBe(0);

  const on = await startBeckon(
    ["--production", "--data", data, "--port", "0", "--log-level", "silent"],
    { ...env, BECKON_PUSH_WEB_PUSH_SUBJECT: "mailto:ops@example.com" },
  );
  expect(on.banner).toMatch(/Push: +Web Push/);
  expect((await webPushKey(on.httpUrl)).status).toBe(200);
  expect(await stopBeckon(on.child)).toBe(0);
});

it("a config file's push.http provider gets a signed push for a call to a user with no device online", async () => {
  const dir = tempDir();
  const gateway = await new HttpReceiver().start();
  cleanups.push(() => gateway.stop());
  gateway.responder = () => ({ status: 200 });
  const gatewaySecret = `whsec_${randomBytes(24).toString("base64")}`;
  writeFileSync(join(dir, "gateway-secret"), `${gatewaySecret}\n`, { mode: 0o600 });
  // Paths in the config file are relative to it.
  writeFileSync(
    join(dir, "beckon.config.json"),
    JSON.stringify({
      data: "./data",
      production: true,
      logLevel: "silent",
      port: 0,
      push: {
        webPush: { subject: "https://example.com/contact" },
        http: { url: `${gateway.url}/push`, secretFile: "./gateway-secret" },
      },
    }),
  );
  const { child, banner, url, httpUrl } = await startBeckon(
    ["--config", join(dir, "beckon.config.json")],
    cleanEnv({ BECKON_SECRET: SECRET }),
  );
  expect(banner).toMatch(/Push: +Web Push, HTTP \(http:\/\/127\.0\.0\.1:\d+\)/);
  expect((await webPushKey(httpUrl)).status).toBe(200);

  // Bob signs in once (so he is a known user), registers his phone's gateway token with his own
  // login token, and goes away.
  const bobToken = await signToken({ secret: SECRET, userID: "bob", ttlSeconds: 600 });
  const bob = new BeckonClient({ url, deviceID: "bob-phone" });
  await bob.login("bob", { token: bobToken });
  const registered = await fetch(`${httpUrl}/api/me/push-registrations`, {
    method: "POST",
    headers: { authorization: `Bearer ${bobToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      deviceID: "bob-phone",
      target: { provider: "http", token: "bob-gateway-token" },
    }),
  });
  expect(registered.status).toBe(201);
  await bob.logout();
  await bob.destroy();

  const alice = new BeckonClient({ url, deviceID: "alice-laptop" });
  try {
    await alice.login("alice", {
      token: await signToken({ secret: SECRET, userID: "alice", ttlSeconds: 600 }),
    });
    const { callID } = await alice.callInvite(["bob"], {
      timeout: 30,
      mode: CallInvitationMode.General,
      extendedData: "",
      pushConfig: { title: "alice is calling", content: "Video call", payload: "" },
    });
    const [request] = await gateway.waitFor(1);
    expect(request?.path).toBe("/push");
    const verified = new Webhook(gatewaySecret).verify(request?.text ?? "", {
      "webhook-id": String(request?.headers["webhook-id"]),
      "webhook-timestamp": String(request?.headers["webhook-timestamp"]),
      "webhook-signature": String(request?.headers["webhook-signature"]),
    });
    expect(verified).toMatchObject({
      type: "push",
      registration: { userID: "bob", deviceID: "bob-phone", token: "bob-gateway-token" },
      message: { kind: "invite", callID, caller: "alice", title: "alice is calling" },
    });
  } finally {
    await alice.destroy();
  }
  expect(await stopBeckon(child)).toBe(0);
});

it("FCM and APNs key files are read and checked at start (beckon checkconfig reads them too)", () => {
  const dir = tempDir();
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(
    join(dir, "service-account.json"),
    JSON.stringify({
      type: "service_account",
      project_id: "demo-project",
      client_email: "beckon@demo-project.iam.gserviceaccount.com",
      private_key: rsa.privateKey.export({ type: "pkcs8", format: "pem" }),
    }),
  );
  writeFileSync(join(dir, "AuthKey.p8"), ec.privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(
    join(dir, "beckon.config.json"),
    JSON.stringify({
      push: {
        fcm: { serviceAccountFile: "service-account.json" },
        apns: {
          keyFile: "AuthKey.p8",
          keyID: "ABC123DEFG",
          teamID: "TEAM123456",
          bundleID: "com.example.app",
          environment: "sandbox",
        },
      },
    }),
  );
  const env = cleanEnv({ BECKON_DATA: join(dir, "data") });
  const good = runBeckon(["checkconfig"], env, dir);
  expect(good.stderr).toBe("");
  expect(good.stdout).toContain(
    "push providers: Web Push, FCM (demo-project), APNs (com.example.app, sandbox)",
  );

  // Web Push off by flag, APNs by variables alone.
  const byEnv = runBeckon(
    ["checkconfig", "--no-push-web-push-enabled"],
    {
      ...env,
      BECKON_PUSH_APNS_KEY_FILE: join(dir, "AuthKey.p8"),
      BECKON_PUSH_APNS_KEY_ID: "ABC123DEFG",
      BECKON_PUSH_APNS_TEAM_ID: "TEAM123456",
      BECKON_PUSH_APNS_BUNDLE_ID: "com.example.voip",
    },
    tempDir(),
  );
  expect(byEnv.stdout).toContain("push providers: APNs (com.example.voip, production)");
});

it("a wrong push setting stops beckon with exit 2 and a message naming it, before anything starts", () => {
  const dir = tempDir();
  const data = join(dir, "data");
  writeFileSync(join(dir, "not-an-account.json"), JSON.stringify({ project_id: "x" }));
  writeFileSync(join(dir, "not-a-key.p8"), "-----BEGIN PRIVATE KEY-----\nnope\n");
  const env = cleanEnv({ BECKON_DATA: data });
  const cases: Array<{ args: string[]; env?: Record<string, string>; says: string }> = [
    {
      args: ["--push-fcm-service-account-file", join(dir, "not-an-account.json")],
      says: "is not a service-account key file: it lacks client_email, private_key",
    },
    {
      args: ["--push-fcm-service-account-file", join(dir, "missing.json")],
      says: "cannot read push.fcm.serviceAccountFile",
    },
    {
      args: ["--push-apns-key-file", join(dir, "not-a-key.p8")],
      says: "push.apns.keyID (--push-apns-key-id / BECKON_PUSH_APNS_KEY_ID): is needed with push.apns.keyFile",
    },
    {
      args: [
        "--push-apns-key-file",
        join(dir, "not-a-key.p8"),
        "--push-apns-key-id",
        "ABC123DEFG",
        "--push-apns-team-id",
        "TEAM123456",
        "--push-apns-bundle-id",
        "com.example.app",
      ],
      says: "is not a PEM private key",
    },
    { args: ["--push-apns-key-id", "short"], says: "must be the 10-character key ID" },
    { args: ["--push-http-url", "http://127.0.0.1:9/push"], says: "needs a signing secret" },
    {
      args: ["--push-http-url", "http://127.0.0.1:9/push"],
      env: { BECKON_PUSH_HTTP_SECRET: "not-a-secret" },
      says: "must be whsec_ followed by base64",
    },
    { args: ["--push-web-push-subject", "ops@example.com"], says: "must be a mailto: address" },
    {
      args: ["--production", "--push-web-push-enabled"],
      env: { BECKON_SECRET: SECRET },
      says: "Web Push in production mode needs a contact",
    },
  ];
  for (const { args, env: extra, says } of cases) {
    const result = runBeckon(["checkconfig", ...args], { ...env, ...extra }, dir);
    expect({ args, status: result.status }).toEqual({ args, status: 2 });
    expect(result.stderr).toContain(says);
  }
  // start checks the same way, and writes nothing (not even the development secret).
  const start = runBeckon(["start", ...(cases[0]?.args ?? [])], env, dir);
  expect(start.status).toBe(2);
  expect(start.stderr).toContain(cases[0]?.says);
  expect(existsSync(data)).toBe(false);
}, 120_000);
