// The server's VAPID key pair (RFC 8292): made once at first start and kept in the data dir (one
// node) or in PostgreSQL (a cluster: one pair for every node), so browser subscriptions, which
// are bound to the public key, survive restarts and reach whichever node sends the push.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import webpush from "web-push";

export interface VapidKeys {
  /** base64url, uncompressed P-256 point: what a page passes as `applicationServerKey`. */
  publicKey: string;
  privateKey: string;
}

const FILE_NAME = "vapid.json";

function isVapidKeys(value: unknown): value is VapidKeys {
  const keys = value as Partial<VapidKeys> | null;
  return typeof keys?.publicKey === "string" && typeof keys.privateKey === "string";
}

/** Reads `<dataDir>/vapid.json`, creating it (owner-only) when it does not exist. */
export function loadOrCreateVapidKeys(dataDir: string): VapidKeys {
  const path = join(dataDir, FILE_NAME);
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text !== undefined) {
    const keys: unknown = JSON.parse(text);
    if (!isVapidKeys(keys)) throw new Error(`${path} does not hold a VAPID key pair`);
    return { publicKey: keys.publicKey, privateKey: keys.privateKey };
  }
  const keys = webpush.generateVAPIDKeys();
  mkdirSync(dataDir, { recursive: true });
  // "wx": two nodes starting at once over one data dir must not each write their own pair.
  try {
    writeFileSync(path, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateVapidKeys(dataDir);
    throw error;
  }
  return keys;
}

/**
 * The cluster's pair from PostgreSQL's `shared_secrets`, made by the first node that asks. A
 * `vapid.json` in `seedDir` (a single node turned into a cluster) becomes the shared pair, so
 * browsers subscribed to that node keep getting pushes.
 */
export async function loadOrCreateSharedVapidKeys(
  pool: pg.Pool,
  seedDir?: string,
  now: number = Date.now(),
): Promise<VapidKeys> {
  const seeded =
    seedDir && existsSync(join(seedDir, FILE_NAME)) ? loadOrCreateVapidKeys(seedDir) : undefined;
  const made = seeded ?? webpush.generateVAPIDKeys();
  // Nodes starting together: the first insert wins, and everyone reads the winner.
  await pool.query(
    "INSERT INTO shared_secrets (name, value, created_at) VALUES ('vapid', $1, $2) ON CONFLICT (name) DO NOTHING",
    [JSON.stringify({ publicKey: made.publicKey, privateKey: made.privateKey }), now],
  );
  const { rows } = await pool.query<{ value: unknown }>(
    "SELECT value FROM shared_secrets WHERE name = 'vapid'",
  );
  const keys = rows[0]?.value;
  if (!isVapidKeys(keys)) throw new Error("shared_secrets holds no usable VAPID key pair");
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}
