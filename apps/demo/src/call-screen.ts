// The calls on screen: an incoming call over the page, a card for each other call, a finished
// card clearing itself after a while, the ring tone and the tab's title following the ringing
// call. A re-render keeps the focus where it was and animates only what just appeared.
import type { CallBook, CallRecord } from "./call-book.js";
import { overCardMs } from "./demo-settings.js";
import { h, replaceChildren } from "./element-builder.js";
import type { Ringer } from "./ringer.js";
import type { CallActions } from "./views/call-actions.js";
import { callCard } from "./views/call-card.js";
import { incomingCall } from "./views/incoming-call.js";

interface ShownSession {
  book: CallBook;
}

/** What the screen needs of the page (asked each time: the session changes). */
export interface CallScreenHost {
  root(): HTMLElement;
  ringer: Ringer;
  session(): ShownSession | null;
  actions(): CallActions;
}

export class CallScreen {
  readonly callsArea = h("section", {
    class: "calls",
    testid: "calls",
    attrs: { "aria-label": "Calls" },
  });
  readonly incomingLayer = h("div", {
    class: "incoming-layer",
    testid: "incoming-layer",
    attrs: { hidden: true },
  });
  private shownCalls = new Set<string>();
  /** Finished calls whose card is due to clear itself. */
  private readonly clearing = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly host: CallScreenHost) {}

  render(): void {
    const session = this.host.session();
    const calls = session?.book.list() ?? [];
    const incoming = calls.filter((call) => call.surface === "incoming");
    const cards = calls.filter((call) => call.surface === "card");
    const focus = this.focusedControl();

    if (session) {
      replaceChildren(
        this.incomingLayer,
        h(
          "div",
          { class: "incoming-stack" },
          incoming.map((call) => incomingCall(call, session.book, this.host.actions())),
        ),
      );
      replaceChildren(
        this.callsArea,
        cards.length > 0 ? h("h2", { class: "section-title" }, "Calls") : null,
        cards.map((call) => callCard(call, session.book, this.host.actions())),
      );
    } else {
      replaceChildren(this.incomingLayer);
      replaceChildren(this.callsArea);
    }
    if (session) this.scheduleClearing(session, cards);
    this.incomingLayer.hidden = incoming.length === 0;
    this.callsArea.hidden = cards.length === 0;
    document.body.classList.toggle("has-incoming", incoming.length > 0);
    this.markNewArrivals();
    this.restoreFocus(focus);

    const ringing = session
      ? incoming.find((call: CallRecord) => session.book.phase(call) === "ringing")
      : undefined;
    document.title = ringing ? `📞 ${ringing.caller} is calling · Beckon demo` : "Beckon demo";
    this.host.ringer.update(ringing ? { callID: ringing.callID, caller: ringing.caller } : null);
  }

  /** A card whose call is over stays a few seconds (its outcome is worth a look), then goes. */
  private scheduleClearing(session: ShownSession, cards: readonly CallRecord[]): void {
    for (const call of cards) {
      if (session.book.phase(call) !== "over" || this.clearing.has(call.callID)) continue;
      const timer = setTimeout(() => {
        this.clearing.delete(call.callID);
        if (this.host.session() !== session) return;
        const still = session.book.get(call.callID);
        if (still && session.book.phase(still) === "over" && still.surface === "card") {
          this.host.actions().dismiss(call.callID);
        }
      }, overCardMs);
      this.clearing.set(call.callID, timer);
    }
    for (const [callID, timer] of this.clearing) {
      const call = session.book.get(callID);
      if (call && session.book.phase(call) !== "over") {
        clearTimeout(timer);
        this.clearing.delete(callID);
      }
    }
  }

  /** Only screens and cards that just appeared animate in, not every re-render of them. */
  private markNewArrivals(): void {
    const shown = new Set<string>();
    for (const element of this.host
      .root()
      .querySelectorAll<HTMLElement>('[data-testid="incoming-call"], [data-testid="call-card"]')) {
      const key = `${element.dataset.testid}:${element.dataset.callId}`;
      shown.add(key);
      if (!this.shownCalls.has(key)) element.classList.add("is-new");
    }
    this.shownCalls = shown;
  }

  /** Which call control has the focus, so a re-render does not steal it from the user. */
  private focusedControl(): { callID: string; testid: string } | null {
    const active = document.activeElement;
    if (!(active instanceof HTMLElement) || !active.dataset.testid) return null;
    const callID = active.closest<HTMLElement>("[data-call-id]")?.dataset.callId;
    return callID ? { callID, testid: active.dataset.testid } : null;
  }

  private restoreFocus(focus: { callID: string; testid: string } | null): void {
    if (!focus) return;
    const selector = `[data-call-id="${CSS.escape(focus.callID)}"] [data-testid="${CSS.escape(focus.testid)}"]`;
    const element = this.host.root().querySelector<HTMLElement>(selector);
    element?.focus();
    if (element instanceof HTMLInputElement) {
      element.setSelectionRange(element.value.length, element.value.length);
    }
  }
}
