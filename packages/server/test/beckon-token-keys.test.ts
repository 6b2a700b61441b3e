// `beckon` with more than one token key, as docs/tokens.md's rotation steps run it: a new
// secret with its kid, the old one kept by --token-keys until its tokens are gone, public key
// files, and ZEGO's appID and secret. Wrong key files stop the command with exit 2.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BeckonClient } from "@beckon/sdk";
import { decodeProtectedHeader } from "jose";
import { afterEach, beforeAll, expect, it } from "vitest";
import {
  assertBuilt,
  runBeckon,
  startBeckon,
  stopAll,
  stopBeckon,
} from "./support/beckon-process.js";

const dirs: string[] = [];
// Each test runs `beckon` several times, each a process start: seconds apiece on a busy machine.
const SLOW = 120_000;
beforeAll(assertBuilt);
afterEach(async () => {
  await stopAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "beckon-keys-"));
  dirs.push(dir);
  return dir;
}

const OLD = "the-old-secret-0123456789abcdef";
const NEW = "the-new-secret-fedcba9876543210";
const base = { ...process.env, NODE_ENV: "", BECKON_SECRET: "", BECKON_CONFIG: "" };

async function logsIn(url: string, userID: string, token: string): Promise<boolean> {
  const client = new BeckonClient({ url, reconnect: { minDelayMs: 10, maxDelayMs: 10 } });
  try {
    await client.login(userID, { token });
    return true;
  } catch {
    return false;
  } finally {
    await client.destroy();
  }
}

it(
  "rotates the secret step by step: old tokens keep working until the old key is dropped",
  async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    writeFileSync(join(dir, "old.secret"), `${OLD}\n`);
    const before = runBeckon(["token", "alice", "--data", data], { ...base, BECKON_SECRET: OLD });
    expect(before.status).toBe(0);
    const oldToken = before.stdout.trim();
    expect(decodeProtectedHeader(oldToken).kid).toBeUndefined();

    // Step 1: the new secret signs (with a kid); the old one verifies under a kid of its own.
    const rotated = { ...base, BECKON_SECRET: NEW, BECKON_SECRET_KEY_ID: "2026-12" };
    const during = ["--production", "--data", data, "--port", "0", "--log-level", "silent"];
    const keys = ["--token-keys", `2026-06=${join(dir, "old.secret")}`];
    const node = await startBeckon([...during, ...keys], rotated);
    expect(node.banner).toContain("Tokens:    also verified with keys 2026-06");
    const fresh = runBeckon(["token", "bob", "--data", data], rotated);
    expect(fresh.stderr).toContain("(kid 2026-12)");
    expect(decodeProtectedHeader(fresh.stdout.trim()).kid).toBe("2026-12");
    expect(await logsIn(node.url, "alice", oldToken)).toBe(true);
    expect(await logsIn(node.url, "bob", fresh.stdout.trim())).toBe(true);
    expect(await stopBeckon(node.child)).toBe(0);

    // Step 2: the old key is dropped once its tokens have expired.
    const after = await startBeckon(during, rotated);
    expect(await logsIn(after.url, "alice", oldToken)).toBe(false);
    expect(await logsIn(after.url, "bob", fresh.stdout.trim())).toBe(true);
    expect(await stopBeckon(after.child)).toBe(0);
  },
  SLOW,
);

it(
  "reads key files from flags and the config file, and refuses wrong ones with exit 2",
  async () => {
    const dir = tempDir();
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(join(dir, "app.pub.pem"), publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(dir, "app.key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
    writeFileSync(join(dir, "old.secret"), OLD);
    writeFileSync(join(dir, "short.secret"), "short");
    writeFileSync(
      join(dir, "beckon.config.json"),
      JSON.stringify({ tokenKeys: { "app-ec": "app.pub.pem", old: "old.secret" } }),
    );
    const env = { ...base, BECKON_SECRET: NEW };
    const fromFile = runBeckon(["checkconfig"], env, dir);
    expect(fromFile.stderr).toBe("");
    expect(fromFile.stdout).toContain("token keys besides the secret: keys app-ec, old");
    expect(fromFile.status).toBe(0);

    const elsewhere = tempDir();
    const flag = runBeckon(
      ["checkconfig", "--token-keys", `ec=${join(dir, "app.pub.pem")}`],
      env,
      elsewhere,
    );
    expect(flag.stdout).toContain("keys ec");
    expect(flag.status).toBe(0);

    const privateFile = runBeckon(
      ["checkconfig", "--token-keys", `ec=${join(dir, "app.key.pem")}`],
      env,
      elsewhere,
    );
    expect(privateFile.status).toBe(2);
    expect(privateFile.stderr).toContain('tokenKeys "ec"');
    expect(privateFile.stderr).toContain("is a private key: give Beckon the public key only");
    const short = runBeckon(
      ["checkconfig", "--token-keys", `s=${join(dir, "short.secret")}`],
      env,
      elsewhere,
    );
    expect(short.status).toBe(2);
    expect(short.stderr).toContain("at least 16 characters");
    const noFile = runBeckon(["checkconfig", "--token-keys", "s"], env, elsewhere);
    expect(noFile.status).toBe(2);
    expect(noFile.stderr).toContain("must be kid=file");
  },
  SLOW,
);

it(
  "takes ZEGO's appID with its server secret, and refuses one without the other",
  async () => {
    const elsewhere = tempDir();
    const env = { ...base, BECKON_SECRET: NEW };
    const alone = runBeckon(["checkconfig", "--zego-app-id", "1234567890"], env, elsewhere);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain("BECKON_ZEGO_SERVER_SECRET");
    const both = runBeckon(
      ["checkconfig", "--zego-app-id", "1234567890"],
      {
        ...env,
        BECKON_ZEGO_SERVER_SECRET: "fa94dd0f974cf2e293728a526b028271",
      },
      elsewhere,
    );
    expect(both.stdout).toContain("ZEGO token04 of appID 1234567890");
    expect(both.stdout).not.toContain("fa94dd0f974cf2e293728a526b028271");
    expect(both.status).toBe(0);
  },
  SLOW,
);
