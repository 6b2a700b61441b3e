// Which devices were sent which invitation, and their receipts, until they are stored: each
// call's records wait for the call's next commit and go into that commit's log entry (a ring's
// sends ride on the receipt that follows, a second device's receipt on the answer), so the
// timeline costs no write of its own. Records that find no commit in time are appended by
// themselves, every waiting call's in one batch.
import type { Logger } from "pino";
import type { CallStore } from "../store/call-store.js";
import type { DeliveryRecord } from "./call-log.js";

/** How long records wait for their call's next commit before they are written alone. */
const RIDE_WAIT_MS = 1_000;
/** While the store fails, at most this many records wait; older ones are dropped (and logged). */
const MAX_WAITING = 100_000;

/** What the call service needs: a place to drop records, synchronous and cheap. */
export interface DeliveryRecorder {
  record(records: readonly DeliveryRecord[]): void;
}

interface Waiting {
  records: DeliveryRecord[];
  /** When the oldest of them was recorded (performance.now()). */
  since: number;
}

export class PendingDeliveries implements DeliveryRecorder {
  private readonly waiting = new Map<string, Waiting>();
  private count = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: Pick<CallStore, "recordDeliveries">,
    private readonly log?: Logger,
    private readonly waitMs = RIDE_WAIT_MS,
  ) {}

  record(records: readonly DeliveryRecord[]): void {
    if (this.closed) return;
    for (const record of records) this.add(record.callID, [record], performance.now());
    this.schedule(this.waitMs);
  }

  /** The call's waiting records, handed to a commit of the call; `putBack` if it fails. */
  take(callID: string): DeliveryRecord[] | undefined {
    const entry = this.waiting.get(callID);
    if (!entry) return undefined;
    this.waiting.delete(callID);
    this.count -= entry.records.length;
    return entry.records;
  }

  /** Records a commit took but did not store. */
  putBack(callID: string, records: readonly DeliveryRecord[]): void {
    if (records.length === 0) return;
    this.add(callID, records, performance.now());
    this.schedule(this.waitMs);
  }

  /** The call's records not stored yet (a reader adds them to what the store has). */
  of(callID: string): DeliveryRecord[] {
    return [...(this.waiting.get(callID)?.records ?? [])];
  }

  /** Stores what has waited `olderThanMs` or longer (everything by default); one write at a time. */
  flush(olderThanMs = 0): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const now = performance.now();
    const batch: DeliveryRecord[] = [];
    for (const [callID, entry] of this.waiting) {
      if (now - entry.since < olderThanMs) continue;
      this.waiting.delete(callID);
      this.count -= entry.records.length;
      batch.push(...entry.records);
    }
    if (this.waiting.size > 0) this.schedule(this.waitMs);
    this.writing = this.writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.recordDeliveries(batch);
      } catch (error) {
        this.keep(batch);
        this.log?.warn({ err: error, count: batch.length }, "delivery records not stored yet");
      }
    });
    return this.writing;
  }

  /** Stores what waits; nothing is recorded after. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private add(callID: string, records: readonly DeliveryRecord[], now: number): void {
    const entry = this.waiting.get(callID);
    if (entry) entry.records.push(...records);
    else this.waiting.set(callID, { records: [...records], since: now });
    this.count += records.length;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush(this.waitMs);
    }, delayMs);
    this.timer.unref();
  }

  /** A failed batch waits again, and is tried with the next round. */
  private keep(batch: readonly DeliveryRecord[]): void {
    const dropped = this.count + batch.length - MAX_WAITING;
    const kept = dropped > 0 ? batch.slice(dropped) : batch;
    if (dropped > 0)
      this.log?.error({ dropped }, "delivery records dropped: the store keeps failing");
    // Older than any wait, so the next round writes them.
    for (const record of kept) this.add(record.callID, [record], -Infinity);
    if (!this.closed) this.schedule(1_000);
  }
}
