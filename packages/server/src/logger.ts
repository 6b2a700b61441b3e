// The node's pino logger: human lines in a terminal, one JSON object per line otherwise (for log
// shippers), and never a token or a secret, whatever a call site passes in.
import { type DestinationStream, type Logger, pino } from "pino";
import pretty from "pino-pretty";
import type { ResolvedOptions } from "./server-options.js";

/** Field names whose values never reach a log line, at the top level or one object down. */
const SECRET_FIELDS = ["token", "secret", "authorization", "password"];

export const redactedPaths = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]);

export function usePrettyLogs(
  format: ResolvedOptions["logFormat"],
  isTTY = process.stdout.isTTY === true,
): boolean {
  return format === "pretty" || (format === "auto" && isTTY);
}

export function createLogger(
  config: Pick<ResolvedOptions, "logLevel" | "logFormat">,
  /** Where JSON lines go (stdout when absent); tests read them here. */
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.logLevel,
    name: "beckon",
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  if (destination) return pino(options, destination);
  if (config.logLevel === "silent" || !usePrettyLogs(config.logFormat)) return pino(options);
  // In-thread and synchronous: a worker-thread transport would lose the last lines on a crash.
  return pino(
    options,
    pretty({ sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }),
  );
}
