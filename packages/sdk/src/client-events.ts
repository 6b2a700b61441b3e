// The events a client emits and the `(client, data)` listener shape ZIM apps already use.
import {
  type BeckonErrorInfo,
  type CallEventMap,
  type ConnectionEvent,
  type ConnectionState,
  callEventNames,
} from "@beckon/protocol";

export interface ConnectionStateChangedEvent {
  state: ConnectionState;
  event: ConnectionEvent;
  /** "" for ordinary transitions; a JSON object (`{code, message}` or `{reason}`) when an error or the server caused it. */
  extendedData: string;
}

export interface TokenWillExpireEvent {
  /** Seconds left before the token expires. */
  second: number;
}

export interface BeckonEventMap extends CallEventMap {
  connectionStateChanged: ConnectionStateChangedEvent;
  tokenWillExpire: TokenWillExpireEvent;
  error: BeckonErrorInfo;
}

export type BeckonEventName = keyof BeckonEventMap;

/** A listener of one event; the first argument is the object it was registered on. */
export type BeckonListener<Owner, K extends BeckonEventName> = (
  owner: Owner,
  data: BeckonEventMap[K],
) => void;

/** The listener type of every event, by name (ZIM's `ZIMEventHandler` shape). */
export type EventListeners<Owner> = {
  [K in BeckonEventName]: BeckonListener<Owner, K>;
};

/** Every event name, for code that forwards all of them (the ZIM façade). */
export const beckonEventNames = [
  ...callEventNames,
  "connectionStateChanged",
  "tokenWillExpire",
  "error",
] as const satisfies readonly BeckonEventName[];
