// The raw SDK events as they arrive, newest first: the quickest way to see what the server said
// when the page shows something unexpected. Enum fields show their names ("Accepted", not 1).
import {
  CallInvitationMode,
  CallState,
  CallUserState,
  ConnectionEvent,
  ConnectionState,
} from "@beckon/sdk";
import { h } from "../element-builder.js";

export interface LoggedEvent {
  at: number;
  name: string;
  data: unknown;
}

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
} as Intl.DateTimeFormatOptions);

type EnumObject = Record<number, string>;

/** Which enum a numeric field holds, by event and field name. */
function enumFor(event: string, key: string, insideUserList: boolean): EnumObject | undefined {
  if (key === "mode") return CallInvitationMode as unknown as EnumObject;
  if (key === "state") {
    if (insideUserList) return CallUserState as unknown as EnumObject;
    if (event === "connectionStateChanged") return ConnectionState as unknown as EnumObject;
    return CallState as unknown as EnumObject;
  }
  if (key === "event" && event === "connectionStateChanged") {
    return ConnectionEvent as unknown as EnumObject;
  }
  return undefined;
}

/** The event's data with enum numbers replaced by their names, for reading. */
export function readableEventData(event: string, data: unknown, insideUserList = false): unknown {
  if (Array.isArray(data))
    return data.map((item) => readableEventData(event, item, insideUserList));
  if (typeof data !== "object" || data === null) return data;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const names = typeof value === "number" ? enumFor(event, key, insideUserList) : undefined;
    out[key] =
      names && typeof value === "number"
        ? (names[value] ?? value)
        : readableEventData(event, value, insideUserList || key.endsWith("UserList"));
  }
  return out;
}

export function eventLogEntries(events: readonly LoggedEvent[]): HTMLElement[] {
  return events.map((event) =>
    h(
      "li",
      { class: "log-entry", testid: "log-entry", attrs: { "data-event": event.name } },
      h("time", null, clock.format(event.at)),
      h("strong", null, event.name),
      h("code", null, JSON.stringify(readableEventData(event.name, event.data))),
    ),
  );
}
