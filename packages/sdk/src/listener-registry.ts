// Listener sets per event name; one listener's exception must not starve the others or break
// the client's own state handling, so it is reported asynchronously instead of thrown through.
import type { BeckonEventMap } from "./client-events.js";

// `never` data lets a listener of any one event be stored without widening its own type.
type StoredListener<Owner> = (owner: Owner, data: never) => void;

type Listener<Owner, Events, K extends keyof Events> = (owner: Owner, data: Events[K]) => void;

export class ListenerRegistry<Owner, Events extends object = BeckonEventMap> {
  private readonly listeners = new Map<keyof Events, Set<StoredListener<Owner>>>();

  constructor(private readonly owner: Owner) {}

  add<K extends keyof Events>(name: K, listener: Listener<Owner, Events, K>): void {
    if (typeof listener !== "function") return;
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
  }

  /** Without a listener, removes every listener of the event (ZIM's `off(event)`). */
  remove<K extends keyof Events>(name: K, listener?: Listener<Owner, Events, K>): void {
    if (listener === undefined) this.listeners.delete(name);
    else this.listeners.get(name)?.delete(listener);
  }

  clear(): void {
    this.listeners.clear();
  }

  emit<K extends keyof Events>(name: K, data: Events[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    // A snapshot, so listeners may add or remove listeners while we iterate.
    for (const listener of [...set]) {
      try {
        (listener as Listener<Owner, Events, K>)(this.owner, data);
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
