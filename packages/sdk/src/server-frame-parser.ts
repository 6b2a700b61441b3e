// Turns a raw WebSocket message into a typed server frame, or null. The server is trusted but
// the network path is not: nothing here may throw, whatever arrives.
import {
  type BeckonErrorInfo,
  type CallEventMap,
  type CallEventName,
  ConnectionEvent,
  callEventNames,
  ErrorCode,
} from "@beckon/protocol";

export type ParsedServerFrame =
  | { kind: "reply"; id: number; ok: true; data: unknown }
  | { kind: "reply"; id: number | null; ok: false; error: BeckonErrorInfo }
  | {
      kind: "callEvent";
      name: CallEventName;
      seq: number | null;
      data: CallEventMap[CallEventName];
    }
  | { kind: "tokenWillExpire"; second: number }
  | { kind: "kicked"; event: ConnectionEvent; reason: string };

const knownCallEvents: ReadonlySet<string> = new Set<CallEventName>(callEventNames);

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

export function parseServerFrame(raw: unknown): ParsedServerFrame | null {
  if (typeof raw !== "string") return null;
  let frame: unknown;
  try {
    frame = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(frame)) return null;
  if ("id" in frame && typeof frame.ok === "boolean") return parseReply(frame);
  if (typeof frame.ev === "string") return parseEvent(frame.ev, frame);
  return null;
}

function parseReply(frame: JsonObject): ParsedServerFrame | null {
  const id = frame.id;
  if (frame.ok === true) {
    return isFiniteNumber(id) ? { kind: "reply", id, ok: true, data: frame.data } : null;
  }
  if (id !== null && !isFiniteNumber(id)) return null;
  const error = frame.error;
  const info: BeckonErrorInfo =
    isObject(error) && isFiniteNumber(error.code)
      ? { code: error.code, message: typeof error.message === "string" ? error.message : "" }
      : { code: ErrorCode.ServerError, message: "malformed error reply" };
  return { kind: "reply", id, ok: false, error: info };
}

function parseEvent(name: string, frame: JsonObject): ParsedServerFrame | null {
  const data = frame.data;
  if (!isObject(data)) return null;
  if (knownCallEvents.has(name)) {
    // Every call event names its call (SPEC §4); without one the app could not route it.
    if (typeof data.callID !== "string") return null;
    return {
      kind: "callEvent",
      name: name as CallEventName,
      seq: isFiniteNumber(frame.seq) ? frame.seq : null,
      data: data as unknown as CallEventMap[CallEventName],
    };
  }
  if (name === "tokenWillExpire") {
    return isFiniteNumber(data.second) ? { kind: "tokenWillExpire", second: data.second } : null;
  }
  if (name === "kicked") {
    return {
      kind: "kicked",
      event: isFiniteNumber(data.event) ? data.event : ConnectionEvent.KickedOut,
      reason: typeof data.reason === "string" ? data.reason : "",
    };
  }
  return null;
}
