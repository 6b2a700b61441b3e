// Store failures an operator can act on (a full disk) are named as such: in the error a client
// gets, in the log, and in /readyz, instead of a bare "internal error"; a database or Redis that
// cannot be reached gets a code that tells the client to retry.
import { BeckonError, ErrorCode } from "@beckon/protocol";

/** How long after the last "storage full" failure the node still reports itself not ready. */
const FULL_REPORT_MS = 60_000;

const STORAGE_FULL_CODES = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);

function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && STORAGE_FULL_CODES.has(code);
}

/** PostgreSQL's SQLSTATEs for "not now": connection exceptions, shutting down, starting up. */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
const UNAVAILABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTCONN",
]);
/** What node-postgres and ioredis say when their connection is gone or never came. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Connection is closed|max retries per request|isn't writeable|did not answer in time/i;

/**
 * Whether `error` means a service the node depends on (PostgreSQL, Redis) cannot be reached right
 * now, rather than that the request itself failed: the request is worth retrying.
 */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code)))
    return true;
  return UNAVAILABLE_MESSAGE.test(error.message) || error.name === "MaxRetriesPerRequestError";
}

export class StoreHealth {
  private fullAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * The error a client gets for a failure that is not a BeckonError: a full store says so;
   * anything else stays an internal error (its details are for the log only).
   */
  clientErrorFor(error: unknown): BeckonError {
    if (isStorageFull(error)) {
      this.fullAt = this.clock();
      return new BeckonError(
        ErrorCode.ServerError,
        "the server's storage is full: the request was not saved; try again later",
      );
    }
    if (isUnavailable(error)) {
      return new BeckonError(
        ErrorCode.ServiceUnavailable,
        "the server cannot reach its database or Redis right now; try again",
      );
    }
    return new BeckonError(ErrorCode.ServerError, "internal error");
  }

  /** "ok", or why the store cannot take writes right now. */
  status(): string {
    return this.clock() - this.fullAt < FULL_REPORT_MS ? "storage full" : "ok";
  }
}
