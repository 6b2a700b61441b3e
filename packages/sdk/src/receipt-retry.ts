// Receipts (callAck) get no reply when they succeed, but an error reply when the server could
// not take them (busy, rate-limited): those are sent again, so an invitee is never left looking
// "not received" while it rings.
import { ErrorCode } from "@beckon/protocol";
import { clampDelay, unrefTimer } from "./background-timer.js";

/** Receipts remembered at once; the oldest is forgotten first (its reply is long overdue). */
const MAX_TRACKED = 256;
const MAX_ATTEMPTS = 5;
const FIRST_RETRY_MS = 100;

const retriable: ReadonlySet<number> = new Set([
  ErrorCode.ServerError,
  ErrorCode.ServerFrequencyLimit,
  ErrorCode.ServerBusy,
]);

export class ReceiptRetry {
  private readonly sent = new Map<number, { callID: string; attempt: number }>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  /** `send` transmits a receipt for the call and returns the request id it used. */
  constructor(private readonly send: (callID: string) => number | null) {}

  /** Sends a receipt and remembers it until its reply (if any) is in. */
  receipt(callID: string, attempt = 0): void {
    const id = this.send(callID);
    if (id === null) return;
    this.sent.set(id, { callID, attempt });
    if (this.sent.size > MAX_TRACKED) this.sent.delete(this.sent.keys().next().value as number);
  }

  /** A reply nobody else waited for; true when it was a receipt's. */
  settle(id: number, ok: boolean, code: number | undefined): boolean {
    const entry = this.sent.get(id);
    if (!entry) return false;
    this.sent.delete(id);
    if (ok || code === undefined || !retriable.has(code) || entry.attempt + 1 >= MAX_ATTEMPTS) {
      return true;
    }
    const delay = FIRST_RETRY_MS * 2 ** entry.attempt * (1 + Math.random());
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.receipt(entry.callID, entry.attempt + 1);
    }, clampDelay(delay));
    unrefTimer(timer);
    this.timers.add(timer);
    return true;
  }

  /** The session ended: nothing is retried any more. */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.sent.clear();
  }
}
