// The event log under the workspace: every SDK event this tab received, newest first.
import { maxLoggedEvents } from "./demo-settings.js";
import { h, replaceChildren } from "./element-builder.js";
import { eventLogEntries, type LoggedEvent } from "./views/event-log.js";

export class EventLogPanel {
  private events: LoggedEvent[] = [];
  private readonly list = h("ol", { class: "log-list" });
  private readonly summary = h("summary", null, "Event log");
  readonly element = h(
    "details",
    { class: "card event-log", testid: "event-log" },
    this.summary,
    h(
      "p",
      { class: "hint" },
      "Every SDK event this tab received, newest first, as the server sent it.",
    ),
    this.list,
  );

  log(name: string, data: unknown): void {
    this.events = [{ at: Date.now(), name, data }, ...this.events].slice(0, maxLoggedEvents);
    this.summary.textContent = `Event log (${this.events.length})`;
    replaceChildren(this.list, eventLogEntries(this.events));
  }
}
