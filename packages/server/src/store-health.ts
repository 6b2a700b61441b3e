// Store failures an operator can act on (a full disk) are named as such: in the error a client
// gets, in the log, and in /readyz, instead of a bare "internal error".
import { BeckonError, ErrorCode } from "@beckon/protocol";

/** How long after the last "storage full" failure the node still reports itself not ready. */
const FULL_REPORT_MS = 60_000;

const STORAGE_FULL_CODES = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);

function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && STORAGE_FULL_CODES.has(code);
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
    return new BeckonError(ErrorCode.ServerError, "internal error");
  }

  /** "ok", or why the store cannot take writes right now. */
  status(): string {
    return this.clock() - this.fullAt < FULL_REPORT_MS ? "storage full" : "ok";
  }
}
