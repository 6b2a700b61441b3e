// Device event streams with positions, Centrifuge-style: every event a device should see is
// appended to its stream and gets an offset there. A session keeps only a cursor, so a device
// that drops can resume on any node from where it was, with nothing missed and nothing twice.

/** Where a stream is: `epoch` changes whenever the stream's history is lost or restarted. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

export interface StreamEntry {
  offset: number;
  /** The frame without its seq: `"ev":"…","data":{…}`; the receiver wraps it as `{"seq":N,…}`. */
  payload: string;
}

export interface Publication {
  stream: string;
  payload: string;
  /**
   * Publish only if nothing with this key was published to the stream before `until` (epoch ms);
   * a device is never shown the same invitation twice, whichever node sends it.
   */
  once?: { key: string; until: number };
}

export type StreamListener = (stream: string, entry: StreamEntry, epoch: string) => void;
/** Frames that belong to no stream (a kick, a token warning), for whichever node holds the device. */
export type SignalListener = (stream: string, frame: string) => void;

export interface StreamBroker {
  /**
   * Appends each payload to its stream, in order, and hands every appended entry to the
   * listeners (on every node). Resolves once the entries are durable in the broker, with the
   * position each publication got, assigned atomically with its append (null: one its `once`
   * key skipped), so a caller knows where its entries stand without listening for them.
   */
  publish(batch: readonly Publication[]): Promise<Array<StreamPosition | null>>;
  /** The stream's current position; a stream that does not exist starts at offset 0. */
  position(stream: string): Promise<StreamPosition>;
  /**
   * Everything after `since`, or "gone" if the stream's epoch differs or entries after `since`
   * were already dropped (the device must resync instead).
   */
  history(stream: string, since: StreamPosition): Promise<StreamEntry[] | "gone">;
  /** Starts the stream afresh under a new epoch (a device that could not resume). */
  reset(stream: string): Promise<StreamPosition>;
  /** The device has everything up to `offset`; older entries need not be kept. */
  trim(stream: string, offset: number): Promise<void>;
  /** Forgets the stream (its session ended). */
  drop(stream: string): Promise<void>;
  signal(stream: string, frame: string): Promise<void>;
  /**
   * Entries and signals, on every node that reads the stream (a device there logged in or
   * resumed). `holds` says whether the listener still has a stream's device here, so a broker
   * that keeps streams alive for the nodes reading them can let the others go.
   */
  subscribe(
    onEntry: StreamListener,
    onSignal: SignalListener,
    holds?: (stream: string) => boolean,
  ): () => void;
  close(): Promise<void>;
}

/** A device's stream name. */
export function streamOf(userID: string, deviceID: string): string {
  return `${userID}\u0000${deviceID}`;
}
