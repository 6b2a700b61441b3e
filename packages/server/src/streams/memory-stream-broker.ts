// The single-process StreamBroker: each stream is an array with a moving head, bounded by bytes
// and age, so a device that never acknowledges costs a fixed amount and then resyncs.
import { randomBytes } from "node:crypto";
import type {
  Publication,
  SignalListener,
  StreamBroker,
  StreamEntry,
  StreamListener,
  StreamPosition,
} from "./stream-broker.js";

export interface StreamLimits {
  /** Entries older than this are dropped (the resume window). */
  maxAgeMs: number;
  /** Per stream; past it the oldest entries go. */
  maxBytes: number;
}

/** Invitations remembered per stream, so a device is not shown one twice. */
const MAX_ONCE_KEYS = 4_096;

interface Kept extends StreamEntry {
  at: number;
  bytes: number;
}

class Stream {
  readonly epoch = randomBytes(6).toString("base64url");
  offset = 0;
  entries: Kept[] = [];
  head = 0;
  bytes = 0;
  /** Keys of `once` publications, with when each may be forgotten. */
  readonly once = new Map<string, number>();
  private pruneAt = 32;

  /** Whether `key` was published already; remembers it otherwise. Expired keys go as it looks. */
  seen(key: string, until: number, now: number): boolean {
    if (this.once.size > this.pruneAt) {
      for (const [old, expiry] of this.once) if (expiry < now) this.once.delete(old);
      // Doubling keeps pruning amortized O(1) however many keys are still live.
      this.pruneAt = Math.max(32, this.once.size * 2);
    }
    const expiry = this.once.get(key);
    if (expiry !== undefined && expiry >= now) return true;
    this.once.set(key, until);
    // Bounded by count as well as by age: forgetting the oldest key risks one repeated ring,
    // never a missed one.
    if (this.once.size > MAX_ONCE_KEYS) {
      const oldest = this.once.keys().next().value;
      if (oldest !== undefined) this.once.delete(oldest);
    }
    return false;
  }

  /** The oldest kept offset minus one: history from before it is gone. */
  get floor(): number {
    const first = this.entries[this.head];
    return first ? first.offset - 1 : this.offset;
  }

  dropWhile(drop: (entry: Kept) => boolean): void {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head] as Kept;
      if (!drop(entry)) break;
      this.bytes -= entry.bytes;
      this.head++;
    }
    // Compact once the dead prefix dominates, so dropping stays O(1) amortized.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

export class MemoryStreamBroker implements StreamBroker {
  private readonly streams = new Map<string, Stream>();
  private readonly listeners = new Set<{ onEntry: StreamListener; onSignal: SignalListener }>();
  private closed = false;

  constructor(
    private readonly limits: StreamLimits = { maxAgeMs: 120_000, maxBytes: 1 << 20 },
    private readonly clock: () => number = Date.now,
  ) {}

  private streamOf(name: string): Stream {
    let stream = this.streams.get(name);
    if (!stream) {
      stream = new Stream();
      this.streams.set(name, stream);
    }
    return stream;
  }

  async publish(batch: readonly Publication[]): Promise<Array<StreamPosition | null>> {
    if (this.closed) throw new Error("the stream broker is closed");
    const now = this.clock();
    const oldest = now - this.limits.maxAgeMs;
    const positions: Array<StreamPosition | null> = [];
    for (const { stream: name, payload, once } of batch) {
      const stream = this.streamOf(name);
      if (once && stream.seen(once.key, once.until, now)) {
        positions.push(null);
        continue;
      }
      stream.offset += 1;
      const entry: Kept = { offset: stream.offset, payload, at: now, bytes: payload.length };
      stream.entries.push(entry);
      stream.bytes += entry.bytes;
      stream.dropWhile((kept) => kept.at < oldest || stream.bytes > this.limits.maxBytes);
      for (const listener of this.listeners) listener.onEntry(name, entry, stream.epoch);
      positions.push({ epoch: stream.epoch, offset: stream.offset });
    }
    return positions;
  }

  async position(name: string): Promise<StreamPosition> {
    const stream = this.streamOf(name);
    return { epoch: stream.epoch, offset: stream.offset };
  }

  async history(name: string, since: StreamPosition): Promise<StreamEntry[] | "gone"> {
    const stream = this.streams.get(name);
    if (!stream || stream.epoch !== since.epoch || since.offset > stream.offset) return "gone";
    const oldest = this.clock() - this.limits.maxAgeMs;
    stream.dropWhile((kept) => kept.at < oldest);
    if (since.offset < stream.floor) return "gone";
    const entries: StreamEntry[] = [];
    for (let i = stream.head; i < stream.entries.length; i++) {
      const { offset, payload } = stream.entries[i] as Kept;
      if (offset > since.offset) entries.push({ offset, payload });
    }
    return entries;
  }

  async reset(name: string): Promise<StreamPosition> {
    this.streams.delete(name);
    return this.position(name);
  }

  async trim(name: string, offset: number): Promise<void> {
    this.streams.get(name)?.dropWhile((kept) => kept.offset <= offset);
  }

  async drop(name: string): Promise<void> {
    this.streams.delete(name);
  }

  async signal(name: string, frame: string): Promise<void> {
    for (const listener of this.listeners) listener.onSignal(name, frame);
  }

  subscribe(onEntry: StreamListener, onSignal: SignalListener): () => void {
    const listener = { onEntry, onSignal };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Bytes held across all streams (for tests and metrics). */
  get heldBytes(): number {
    let bytes = 0;
    for (const stream of this.streams.values()) bytes += stream.bytes;
    return bytes;
  }

  /** What one stream holds: entries' bytes and remembered `once` keys (for tests and metrics). */
  held(name: string): { bytes: number; entries: number; onceKeys: number } {
    const stream = this.streams.get(name);
    return {
      bytes: stream?.bytes ?? 0,
      entries: stream ? stream.entries.length - stream.head : 0,
      onceKeys: stream?.once.size ?? 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.streams.clear();
  }
}
