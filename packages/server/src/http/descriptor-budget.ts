// Every socket takes a file descriptor, and so does every file SQLite opens. Past the soft limit
// the store fails ("unable to open database file") and honest requests get 6000000, so the node
// refuses sockets before the descriptors kept in reserve for the store would be touched. (Node
// itself raises the soft limit to the hard one at start; where it could not, the log says so.)
import { readdirSync, readFileSync } from "node:fs";
import type { Logger } from "pino";

/** Descriptors left for the store (journal, temp files) and the process itself. */
export const DESCRIPTOR_RESERVE = 128;
/** Fewer sockets than this would make the node useless; it then runs with what it has. */
const MIN_CONNECTIONS = 32;

function readLimits(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((row) => row.startsWith("Max open files"));
    const [soft, hard] = (line?.match(/(\d+|unlimited)\s+(\d+|unlimited)/) ?? []).slice(1);
    if (!soft || !hard) return null;
    const value = (text: string) =>
      text === "unlimited" ? Number.POSITIVE_INFINITY : Number(text);
    return { soft: value(soft), hard: value(hard) };
  } catch {
    return null;
  }
}

/**
 * How many connections the HTTP server may hold at once, or null where descriptors cannot be
 * counted (no /proc): then only the operating system's limit applies.
 */
export function planConnections(log: Logger): number | null {
  const limits = readLimits();
  if (!limits) return null;
  if (limits.soft < limits.hard) {
    log.warn(limits, "the open-file soft limit is below the hard limit; raise it with ulimit -n");
  }
  if (!Number.isFinite(limits.soft)) return null;
  let inUse = 0;
  try {
    inUse = readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
  const connections = Math.max(MIN_CONNECTIONS, limits.soft - inUse - DESCRIPTOR_RESERVE);
  log.info(
    { openFileLimit: limits.soft, inUse, reserve: DESCRIPTOR_RESERVE, maxConnections: connections },
    // The first line of every start: a plan, said as one (it used to read like a refusal).
    `room for ${connections} connections at once (open-file limit ${limits.soft}, ${DESCRIPTOR_RESERVE} kept for the store)`,
  );
  return connections;
}
