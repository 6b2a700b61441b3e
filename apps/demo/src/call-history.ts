// The history panel: the user's calls a page at a time (queryCallInvitationList), refreshed a
// moment after any change to the calls, and each call's delivery timeline opened under its row.
import type { BeckonClient } from "@beckon/sdk";
import { h, replaceChildren } from "./element-builder.js";
import { describeError } from "./error-text.js";
import type { TimelineState } from "./views/call-timeline-view.js";
import { type HistoryActions, type HistoryState, historyView } from "./views/history-view.js";
import type { NoticeKind } from "./views/notice-list.js";

/** What the panel needs of the page. */
export interface HistoryHost {
  /** The signed-in session (compared by identity: a late answer for another is dropped). */
  current(): { userID: string; client: BeckonClient } | null;
  notify(kind: NoticeKind, text: string): void;
  /** Users seen in the history, for the page's list of people. */
  remember(userIDs: string[]): void;
  /** What the rows' buttons do to a call. */
  rowActions: Omit<HistoryActions, "refresh" | "more" | "toggleTimeline" | "timelineOf" | "viewer">;
}

export class CallHistory {
  readonly element = h("div", { class: "history-slot" });
  private state: HistoryState;
  /** Call timelines opened under the history's rows, by callID. */
  private readonly timelines = new Map<string, TimelineState>();
  private reloadWanted = false;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: HistoryHost,
    pageSize: number,
  ) {
    this.state = { items: [], nextFlag: 0, loading: false, loaded: false, pageSize };
  }

  /** A new sign-in: the history starts over. */
  reset(): void {
    this.state = { ...this.state, items: [], nextFlag: 0, loaded: false };
    this.timelines.clear();
  }

  /** Reloads from the start shortly, once a burst of changes is over. */
  refreshSoon(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.load(true), 300);
  }

  async load(fromStart: boolean): Promise<void> {
    const session = this.host.current();
    if (!session) return;
    if (this.state.loading) {
      this.reloadWanted ||= fromStart;
      return;
    }
    this.state = { ...this.state, loading: true };
    this.render();
    try {
      // A refresh reloads as many calls as are shown, so paging on is not undone.
      const count = fromStart
        ? Math.min(100, Math.max(this.state.pageSize, this.state.items.length))
        : this.state.pageSize;
      const result = await session.client.queryCallInvitationList({
        count,
        nextFlag: fromStart ? 0 : this.state.nextFlag,
      });
      if (this.host.current() !== session) return;
      const items = fromStart ? result.callList : [...this.state.items, ...result.callList];
      const unique = [...new Map(items.map((call) => [call.callID, call])).values()];
      this.state = { ...this.state, items: unique, nextFlag: result.nextFlag, loaded: true };
      this.host.remember(
        result.callList.flatMap((call) => call.callUserList.map((user) => user.userID)),
      );
    } catch (error) {
      if (this.host.current() === session) {
        this.host.notify("error", describeError("Could not load the call history", error));
      }
    } finally {
      this.state = { ...this.state, loading: false };
      this.render();
      if (this.reloadWanted && this.host.current() === session) {
        this.reloadWanted = false;
        void this.load(true);
      }
    }
  }

  /** Opens a call's timeline (loading it afresh each time) or closes it. */
  private async toggleTimeline(callID: string): Promise<void> {
    const session = this.host.current();
    if (!session) return;
    if (this.timelines.get(callID)?.open) {
      this.timelines.delete(callID);
      this.render();
      return;
    }
    const state: TimelineState = { open: true, loading: true, result: null, error: null };
    this.timelines.set(callID, state);
    this.render();
    try {
      const result = await session.client.callTimeline(callID);
      if (this.timelines.get(callID) !== state) return;
      this.timelines.set(callID, { ...state, loading: false, result });
    } catch (error) {
      if (this.timelines.get(callID) !== state) return;
      const text = describeError("Could not load the timeline", error);
      this.timelines.set(callID, { ...state, loading: false, error: text });
    }
    if (this.host.current() === session) this.render();
  }

  render(): void {
    const session = this.host.current();
    if (!session) {
      replaceChildren(this.element);
      return;
    }
    replaceChildren(
      this.element,
      historyView(this.state, session.userID, {
        ...this.host.rowActions,
        refresh: () => void this.load(true),
        more: () => void this.load(false),
        toggleTimeline: (callID) => void this.toggleTimeline(callID),
        timelineOf: (callID) => this.timelines.get(callID),
        viewer: { userID: session.userID, deviceID: session.client.deviceID },
      }),
    );
  }
}
