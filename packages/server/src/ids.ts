// Identifiers for rows written on the ring path (calls, webhook deliveries). They start with the
// creation time, so an index takes each new key at its right edge: a random key lands on a random
// page instead, and on a table of some size that made an insert about five times dearer (SQLite,
// measured with the webhook queue). The random tail keeps them unguessable.
import { randomFillSync } from "node:crypto";

/** Random bytes are drawn a page at a time: one `randomBytes` call costs microseconds. */
const pool = Buffer.alloc(4_096);
let used = pool.length;

function randomTail(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const tail = pool.toString("base64url", used, used + bytes);
  used += bytes;
  return tail;
}

/**
 * `prefix` + the time in ms as 12 hex digits + `randomBytes` random bytes in base64url (16
 * characters for the default 12 bytes, i.e. 96 random bits).
 */
export function timeOrderedID(prefix = "", randomBytes = 12, now = Date.now()): string {
  return `${prefix}${now.toString(16).padStart(12, "0")}${randomTail(randomBytes)}`;
}
