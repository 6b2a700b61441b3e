// The raw SDK events as they arrive, newest first: the quickest way to see what the server said
// when the page shows something unexpected.
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

export function eventLogEntries(events: readonly LoggedEvent[]): HTMLElement[] {
  return events.map((event) =>
    h(
      "li",
      { class: "log-entry" },
      h("time", null, clock.format(event.at)),
      h("strong", null, event.name),
      h("code", null, JSON.stringify(event.data)),
    ),
  );
}
