// Records when the server sent each device an invitation and when the device acknowledged it,
// without a database write on the ring's path: records wait in memory and are written in
// batches, a short while later or before anyone reads them. Writes are idempotent, so a batch
// written twice (a retry) changes nothing.
import type { Logger } from "pino";
import type { DeliveryLogStore, DeliveryRecord } from "./delivery-log-store.js";

/** How long records wait, so one write carries the rings of many calls. */
const FLUSH_AFTER_MS = 50;
/** A batch this big is written at once instead of waiting. */
const FLUSH_AT = 2_000;
/** While the store fails, at most this many records wait; older ones are dropped (and logged). */
const MAX_WAITING = 100_000;

/** What the call service needs: a place to drop records, synchronous and cheap. */
export interface DeliveryRecorder {
  record(records: readonly DeliveryRecord[]): void;
}

export class DeliveryLog implements DeliveryRecorder {
  private waiting: DeliveryRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: DeliveryLogStore,
    private readonly log?: Logger,
  ) {}

  record(records: readonly DeliveryRecord[]): void {
    if (this.closed) return;
    for (const record of records) this.waiting.push(record);
    if (this.waiting.length >= FLUSH_AT) {
      void this.flush();
    } else if (this.timer === null && this.waiting.length > 0) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
      this.timer.unref();
    }
  }

  /** Writes what waits; resolves once every record made so far is stored (or failed). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.waiting;
    this.waiting = [];
    // One write at a time, in order.
    this.writing = this.writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.add(batch);
      } catch (error) {
        this.keep(batch);
        this.log?.warn({ err: error, count: batch.length }, "delivery records not stored yet");
      }
    });
    return this.writing;
  }

  /** A call's records, including those still waiting. */
  async of(callID: string): Promise<DeliveryRecord[]> {
    await this.flush();
    return this.store.of(callID);
  }

  purgeBefore(time: number): Promise<number> {
    return this.store.purgeBefore(time);
  }

  /** Writes what waits; nothing is recorded after. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** A failed batch goes back in front, to be written with the next one. */
  private keep(batch: DeliveryRecord[]): void {
    const all = [...batch, ...this.waiting];
    const dropped = all.length - MAX_WAITING;
    if (dropped > 0)
      this.log?.error({ dropped }, "delivery records dropped: the store keeps failing");
    this.waiting = dropped > 0 ? all.slice(dropped) : all;
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => void this.flush(), 1_000);
      this.timer.unref();
    }
  }
}
