// The call history from queryCallInvitationList: newest first, a page at a time.
import { type CallInfo, CallInvitationMode, CallState, CallUserState } from "@beckon/sdk";
import { mediaLabel, memberLook, modeLabel, userStateName } from "../call-labels.js";
import { h } from "../element-builder.js";
import { callTimelineView, type TimelineState, type Viewer } from "./call-timeline-view.js";

export interface HistoryState {
  items: CallInfo[];
  /** 0 once the server has nothing more; the next page's cursor otherwise. */
  nextFlag: number;
  loading: boolean;
  loaded: boolean;
  pageSize: number;
}

export interface HistoryActions {
  refresh(): void;
  more(): void;
  join(call: CallInfo): void;
  isJoining(callID: string): boolean;
  /** Back into an advanced call the user is still a member of (after a reload, on this tab). */
  rejoin(call: CallInfo): void;
  leave(call: CallInfo): void;
  /** Cancels a call the user is still ringing out from another tab or device. */
  cancel(call: CallInfo): void;
  /** This tab shows the call already (its card has the controls). */
  isShownHere(callID: string): boolean;
  isBusy(action: string, callID: string): boolean;
  /** Shows or hides the call's per-device delivery timeline. */
  toggleTimeline(callID: string): void;
  timelineOf(callID: string): TimelineState | undefined;
  /** This page's user and device, named as such in timelines. */
  viewer: Viewer;
}

const pendingStates: ReadonlySet<CallUserState> = new Set([
  CallUserState.Inviting,
  CallUserState.Received,
  CallUserState.NotYetReceived,
]);

const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

function item(call: CallInfo, me: string, actions: HistoryActions): HTMLElement {
  const outgoing = call.caller === me;
  const others = call.callUserList.filter((user) => user.userID !== me);
  const mine = call.callUserList.find((user) => user.userID === me)?.state;
  const running = call.state === CallState.Started;
  const advancedRunning = running && call.mode === CallInvitationMode.Advanced;
  const canJoin = advancedRunning && mine !== CallUserState.Accepted;
  // Still a member, but this tab has no card for it (reloaded, or joined elsewhere).
  const canRejoin =
    advancedRunning && mine === CallUserState.Accepted && !actions.isShownHere(call.callID);
  // My call still ringing, placed from another tab or device (or a tab since closed): the
  // server gives this device no card for it, yet it keeps me busy until it is answered,
  // cancelled or times out, so it is offered here to cancel.
  const ringingOut =
    running &&
    outgoing &&
    others.some((user) => pendingStates.has(user.state)) &&
    !others.some((user) => user.state === CallUserState.Accepted) &&
    !actions.isShownHere(call.callID);
  const timeline = actions.timelineOf(call.callID);
  const timelineOpen = timeline?.open === true;
  return h(
    "li",
    {
      class: "history-item",
      testid: "history-item",
      attrs: { "data-call-id": call.callID, "data-call-state": CallState[call.state] },
    },
    h(
      "div",
      { class: "history-main" },
      h(
        "span",
        { class: `direction ${outgoing ? "out" : "in"}`, attrs: { "aria-hidden": "true" } },
        outgoing ? "↗" : "↙",
      ),
      h(
        "div",
        { class: "history-text" },
        h(
          "p",
          { class: "history-title", testid: "history-title" },
          outgoing ? `To ${others.map((user) => user.userID).join(", ")}` : `From ${call.caller}`,
        ),
        h(
          "p",
          { class: "meta" },
          `${mediaLabel(call.extendedData)} · ${modeLabel(call.mode)} · ${timeFormat.format(call.createTime)}`,
        ),
      ),
      h(
        "span",
        {
          class: `phase-badge ${running ? "phase-badge-in-call" : "phase-badge-over"}`,
          testid: "history-phase",
        },
        ringingOut ? "Calling" : running ? "Ongoing" : "Ended",
      ),
    ),
    h(
      "ul",
      { class: "history-members" },
      call.callUserList.map((user) => {
        const look = memberLook(user, call.caller, call.callUserList, running);
        return h(
          "li",
          {
            class: `chip tone-${look.tone}`,
            attrs: { "data-user-id": user.userID, "data-state": userStateName(user.state) },
          },
          user.userID === me ? `${user.userID} (you)` : user.userID,
          ": ",
          look.label,
        );
      }),
    ),
    ringingOut
      ? h(
          "button",
          {
            class: "button button-danger button-small",
            testid: "history-cancel",
            attrs: { type: "button", disabled: actions.isBusy("cancel", call.callID) },
            on: { click: () => actions.cancel(call) },
          },
          "Cancel call",
        )
      : null,
    canJoin
      ? h(
          "button",
          {
            class: "button button-primary button-small",
            testid: "history-join",
            attrs: { type: "button", disabled: actions.isJoining(call.callID) },
            on: { click: () => actions.join(call) },
          },
          "Join this call",
        )
      : null,
    canRejoin
      ? h(
          "div",
          { class: "history-actions" },
          h(
            "button",
            {
              class: "button button-primary button-small",
              testid: "history-rejoin",
              attrs: { type: "button", disabled: actions.isBusy("join", call.callID) },
              on: { click: () => actions.rejoin(call) },
            },
            "Rejoin",
          ),
          h(
            "button",
            {
              class: "button button-small",
              testid: "history-leave",
              attrs: { type: "button", disabled: actions.isBusy("leave", call.callID) },
              on: { click: () => actions.leave(call) },
            },
            "Leave",
          ),
        )
      : null,
    h(
      "button",
      {
        class: "button button-quiet button-small",
        testid: "history-timeline-toggle",
        attrs: { type: "button", "aria-expanded": timelineOpen },
        on: { click: () => actions.toggleTimeline(call.callID) },
      },
      timelineOpen ? "Hide timeline" : "Timeline",
    ),
    timeline?.open ? callTimelineView(timeline, actions.viewer) : null,
  );
}

export function historyView(state: HistoryState, me: string, actions: HistoryActions): HTMLElement {
  const hasMore = state.nextFlag !== 0;
  return h(
    "section",
    { class: "card history", testid: "history", attrs: { "aria-busy": state.loading } },
    h(
      "header",
      { class: "card-head" },
      h("h2", null, "Call history"),
      h(
        "button",
        {
          class: "button button-quiet button-small",
          testid: "history-refresh",
          attrs: { type: "button", disabled: state.loading },
          on: { click: () => actions.refresh() },
        },
        "Refresh",
      ),
    ),
    h(
      "p",
      { class: "hint" },
      `Your calls from queryCallInvitationList, newest first, ${state.pageSize} per page.`,
    ),
    state.items.length > 0
      ? h(
          "ol",
          { class: "history-list" },
          state.items.map((call) => item(call, me, actions)),
        )
      : h(
          "p",
          { class: "empty", testid: "history-empty" },
          state.loaded ? "No calls yet." : "Loading…",
        ),
    hasMore
      ? h(
          "button",
          {
            class: "button button-wide",
            testid: "history-more",
            attrs: { type: "button", disabled: state.loading },
            on: { click: () => actions.more() },
          },
          state.loading ? "Loading…" : "Load more",
        )
      : state.items.length > 0
        ? h("p", { class: "empty", testid: "history-end" }, "That's all.")
        : null,
  );
}
