// Listener sets per event name; one listener's exception must not starve the others or break
// the client's own state handling, so it is reported asynchronously instead of thrown through.
import type { BeckonEventMap, BeckonEventName, BeckonListener } from "./client-events.js";

// `never` data lets a listener of any one event be stored without widening its own type.
type StoredListener<Owner> = (owner: Owner, data: never) => void;

export class ListenerRegistry<Owner> {
  private readonly listeners = new Map<BeckonEventName, Set<StoredListener<Owner>>>();

  constructor(private readonly owner: Owner) {}

  add<K extends BeckonEventName>(name: K, listener: BeckonListener<Owner, K>): void {
    if (typeof listener !== "function") return;
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
  }

  /** Without a listener, removes every listener of the event (ZIM's `off(event)`). */
  remove<K extends BeckonEventName>(name: K, listener?: BeckonListener<Owner, K>): void {
    if (listener === undefined) this.listeners.delete(name);
    else this.listeners.get(name)?.delete(listener);
  }

  clear(): void {
    this.listeners.clear();
  }

  emit<K extends BeckonEventName>(name: K, data: BeckonEventMap[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    // A snapshot, so listeners may add or remove listeners while we iterate.
    for (const listener of [...set]) {
      try {
        (listener as BeckonListener<Owner, K>)(this.owner, data);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }
}

function reportListenerError(error: unknown): void {
  if (typeof globalThis.reportError === "function") {
    globalThis.reportError(error);
    return;
  }
  setTimeout(() => {
    throw error;
  }, 0);
}
