// One Server-Sent Events stream for the whole console (GET /api/events): every view that shows
// live numbers listens to it, none polls. EventSource reconnects by itself.
import type { Snapshot } from "./api-client.js";

export type FeedState = "connecting" | "live" | "retrying";

export class LiveFeed {
  private source: EventSource | null = null;
  private readonly listeners = new Set<(snapshot: Snapshot) => void>();
  private readonly stateListeners = new Set<(state: FeedState) => void>();
  last: Snapshot | null = null;
  state: FeedState = "connecting";

  start(): void {
    if (this.source) return;
    const source = new EventSource("../api/events");
    this.source = source;
    this.setState("connecting");
    source.addEventListener("snapshot", (event) => {
      this.last = JSON.parse((event as MessageEvent<string>).data) as Snapshot;
      this.setState("live");
      for (const listener of this.listeners) listener(this.last);
    });
    source.addEventListener("error", () => this.setState("retrying"));
  }

  stop(): void {
    this.source?.close();
    this.source = null;
    this.last = null;
  }

  /** `listener` gets every snapshot (the last one at once); returns the unsubscribe. */
  listen(listener: (snapshot: Snapshot) => void): () => void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
    return () => this.listeners.delete(listener);
  }

  onState(listener: (state: FeedState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: FeedState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
