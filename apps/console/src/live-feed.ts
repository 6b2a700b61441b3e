// One Server-Sent Events stream for the whole console (GET /api/events): every view that shows
// live numbers listens to it, none polls. A call's page asks the same stream to carry that call
// too (`?callID=`), so each of its steps (sends, receipts, devices told, pushes) shows as it
// happens. EventSource reconnects by itself.
import type { CallDetail, Snapshot } from "./api-client.js";

export type FeedState = "connecting" | "live" | "retrying";

export class LiveFeed {
  private source: EventSource | null = null;
  private readonly listeners = new Set<(snapshot: Snapshot) => void>();
  private readonly callListeners = new Set<(call: CallDetail) => void>();
  private readonly stateListeners = new Set<(state: FeedState) => void>();
  /** The call the stream carries besides the snapshots, if any. */
  private callID: string | null = null;
  last: Snapshot | null = null;
  state: FeedState = "connecting";

  start(): void {
    if (this.source) return;
    const query = this.callID === null ? "" : `?callID=${encodeURIComponent(this.callID)}`;
    const source = new EventSource(`../api/events${query}`);
    this.source = source;
    if (this.state !== "live") this.setState("connecting");
    source.addEventListener("snapshot", (event) => {
      this.last = JSON.parse((event as MessageEvent<string>).data) as Snapshot;
      this.setState("live");
      for (const listener of this.listeners) listener(this.last);
    });
    source.addEventListener("call", (event) => {
      const call = JSON.parse((event as MessageEvent<string>).data) as CallDetail;
      if (call.callID !== this.callID) return;
      for (const listener of this.callListeners) listener(call);
    });
    source.addEventListener("error", () => this.setState("retrying"));
  }

  stop(): void {
    this.source?.close();
    this.source = null;
    this.last = null;
    this.callID = null;
  }

  /** `listener` gets every snapshot (the last one at once); returns the unsubscribe. */
  listen(listener: (snapshot: Snapshot) => void): () => void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
    return () => this.listeners.delete(listener);
  }

  /**
   * The stream carries `callID` as well (reopened once), and `listener` gets the call as the
   * server API shows it at once and on every change; the unsubscribe lets the stream drop it.
   */
  watchCall(callID: string, listener: (call: CallDetail) => void): () => void {
    this.callListeners.add(listener);
    this.retarget(callID);
    return () => {
      this.callListeners.delete(listener);
      if (this.callListeners.size === 0) this.retarget(null);
    };
  }

  onState(listener: (state: FeedState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  private retarget(callID: string | null): void {
    if (this.callID === callID) return;
    this.callID = callID;
    if (!this.source) return;
    this.source.close();
    this.source = null;
    this.start();
  }

  private setState(state: FeedState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
