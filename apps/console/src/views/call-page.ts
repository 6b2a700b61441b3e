// A call's page: who was rung on which device and what happened, as a sequence diagram with a
// lane per device and the milliseconds between steps; the members; actions for a call stuck
// in a state (cancel, end: sessions with actions allowed) and the whole record as JSON.
import { CallInvitationMode, CallState, CallUserState } from "@beckon/protocol";
import { ApiError, api, type CallDetail } from "../api-client.js";
import { callSequence, SERVER_LANE, type Sequence } from "../call-sequence.js";
import { h, replaceChildren } from "../element-builder.js";
import { callStateName, duration, modeName, timeOf } from "../format.js";
import type { Page, PageContext } from "../page.js";
import { memberChips } from "./member-chips.js";

function laneLabel(userID: string, deviceID: string) {
  return deviceID === "server-api" ? `${userID} · server API` : `${userID} · ${deviceID}`;
}

function diagram(sequence: Sequence): HTMLElement {
  const lanes = [SERVER_LANE, ...sequence.lanes.map((lane) => lane.id)];
  const index = new Map(lanes.map((id, i) => [id, i]));
  const head = h(
    "tr",
    null,
    h(
      "th",
      { class: "seq-time", attrs: { scope: "col" } },
      "Time",
      h("span", { class: "sub" }, "since created · since last"),
    ),
    h("th", { class: "seq-step", attrs: { scope: "col" } }, "Step"),
    h("th", { class: "seq-lane-head", attrs: { scope: "col" } }, "Server"),
    sequence.lanes.map((lane) =>
      h(
        "th",
        {
          class: `seq-lane-head${lane.neverReceived ? " seq-lane-flag" : ""}`,
          testid: "lane",
          attrs: { scope: "col", "data-lane": lane.id.replace("\u0000", "/") },
        },
        laneLabel(lane.userID, lane.deviceID),
        lane.neverReceived
          ? h("span", { class: "flag", testid: "never-received" }, "never acknowledged")
          : null,
      ),
    ),
  );
  const rows = sequence.steps.map((step) => {
    const from = index.get(step.from) ?? 0;
    const to = index.get(step.to) ?? 0;
    const low = Math.min(from, to);
    const high = Math.max(from, to);
    /** Lanes the arrow passes that it also reaches (devices told at once). */
    const reached = new Set(step.targets.map((id) => index.get(id)));
    const cells = lanes.map((_, i) => {
      let shape = "";
      if (low === high) shape = i === low ? "seq-dot" : "";
      else if (i === from) shape = to > from ? "seq-start-right" : "seq-start-left";
      else if (i === to) shape = to > from ? "seq-end-right" : "seq-end-left";
      else if (i > low && i < high) shape = reached.has(i) ? "seq-through seq-hit" : "seq-through";
      return h("td", {
        class: `seq-cell ${shape} tone-${step.tone}`,
        attrs: { "aria-hidden": "true" },
      });
    });
    return h(
      "tr",
      {
        class: "seq-row",
        testid: "step",
        attrs: {
          "data-kind": step.kind,
          "data-targets": step.targets.map((id) => id.replace("\u0000", "/")).join(" "),
        },
      },
      h(
        "td",
        { class: "seq-time" },
        h("span", { class: "mono" }, timeOf(step.at)),
        h(
          "span",
          { class: "sub" },
          `+${duration(step.sinceStart)} · Δ ${duration(step.sincePrevious)}`,
        ),
      ),
      h(
        "td",
        { class: `seq-step tone-text-${step.tone}` },
        h("span", { testid: "step-label" }, step.label),
        // On a phone the time column folds into the step.
        h(
          "span",
          { class: "sub seq-when-inline" },
          `${timeOf(step.at)} · +${duration(step.sinceStart)} · Δ ${duration(step.sincePrevious)}`,
        ),
      ),
      cells,
    );
  });
  return h(
    "div",
    {
      class: "seq-wrap",
      attrs: { tabindex: "0", role: "region", "aria-label": "Timeline as a sequence diagram" },
    },
    h(
      "table",
      { class: "seq", testid: "sequence" },
      h("thead", null, head),
      h("tbody", null, rows),
    ),
  );
}

/** Who the console acts as: the caller for a cancel, an Accepted member for an end. */
function actionsFor(call: CallDetail): { cancelAs?: string; endAs?: string } {
  if (call.state !== CallState.Started) return {};
  const accepted = call.members.filter((m) => m.state === CallUserState.Accepted);
  const someoneAnswered = accepted.some((m) => m.userID !== call.caller);
  return {
    ...(!someoneAnswered ? { cancelAs: call.caller } : {}),
    ...(call.mode === CallInvitationMode.Advanced && accepted[0]
      ? { endAs: accepted[0].userID }
      : {}),
  };
}

/** What the operator did on the page, kept when a live change redraws it. */
interface PageState {
  message: string;
  error: boolean;
  jsonOpen: boolean;
}

function render(
  container: HTMLElement,
  context: PageContext,
  call: CallDetail,
  state: PageState,
  reload: () => void,
) {
  const message = h(
    "p",
    {
      class: `form-message${state.error ? " form-message-error" : ""}`,
      testid: "action-message",
      attrs: { role: "status" },
    },
    state.message,
  );
  const say = (text: string, error = false) => {
    state.message = text;
    state.error = error;
    message.textContent = text;
    message.classList.toggle("form-message-error", error);
  };
  const act = async (path: string, body: unknown, done: string) => {
    try {
      await api(path, { method: "POST", body });
      say(done);
      reload();
    } catch (error) {
      say(error instanceof ApiError ? error.message : "The server could not be reached.", true);
    }
  };
  const { cancelAs, endAs } = actionsFor(call);
  const canAct = context.session.actions;
  const readOnlyNote = canAct
    ? null
    : h(
        "p",
        { class: "hint" },
        "Read-only session: sign in with actions allowed to cancel or end calls.",
      );
  const actions = h(
    "div",
    { class: "actions" },
    cancelAs
      ? h(
          "button",
          {
            class: "button button-danger",
            testid: "cancel-call",
            attrs: { type: "button", disabled: !canAct },
            on: {
              click: () =>
                void act(
                  `/calls/${encodeURIComponent(call.callID)}/cancel`,
                  { userID: cancelAs, invitees: [] },
                  "Cancelled.",
                ),
            },
          },
          `Cancel call (as ${cancelAs})`,
        )
      : null,
    endAs
      ? h(
          "button",
          {
            class: "button button-danger",
            testid: "end-call",
            attrs: { type: "button", disabled: !canAct },
            on: {
              click: () =>
                void act(
                  `/calls/${encodeURIComponent(call.callID)}/end`,
                  { userID: endAs },
                  "Ended.",
                ),
            },
          },
          `End call (as ${endAs})`,
        )
      : null,
    h(
      "button",
      {
        class: "button",
        testid: "copy-json",
        attrs: { type: "button" },
        on: {
          click: async () => {
            try {
              await navigator.clipboard.writeText(JSON.stringify(call, null, 2));
              say("Copied the call as JSON.");
            } catch {
              say("The browser did not allow copying; use the JSON below.");
            }
          },
        },
      },
      "Copy as JSON",
    ),
  );
  const sequence = callSequence(call);
  const stateTone = call.state === CallState.Started ? "wait" : "quiet";
  replaceChildren(
    container,
    h(
      "div",
      { class: "page-head" },
      h(
        "h1",
        { class: "page-title" },
        "Call ",
        h("span", { class: "mono", testid: "call-id" }, call.callID),
      ),
      h(
        "span",
        { class: `badge badge-${stateTone}`, testid: "call-state" },
        callStateName(call.state),
      ),
    ),
    h(
      "section",
      { class: "card" },
      h(
        "dl",
        { class: "facts" },
        h(
          "div",
          null,
          h("dt", null, "Caller"),
          h(
            "dd",
            null,
            h("a", { attrs: { href: `#/users/${encodeURIComponent(call.caller)}` } }, call.caller),
          ),
        ),
        h("div", null, h("dt", null, "Mode"), h("dd", null, modeName(call.mode))),
        h(
          "div",
          null,
          h("dt", null, "Created"),
          h("dd", { class: "mono" }, timeOf(call.createTime)),
        ),
        h(
          "div",
          null,
          h("dt", null, "Ended"),
          h(
            "dd",
            { class: "mono" },
            call.endTime
              ? `${timeOf(call.endTime)} (${duration(call.endTime - call.createTime)})`
              : "—",
          ),
        ),
        h("div", null, h("dt", null, "Ring timeout"), h("dd", null, `${call.timeout} s`)),
      ),
      h(
        "div",
        { class: "members" },
        h("h2", { class: "section-title" }, "Members"),
        memberChips(call.members),
      ),
      actions,
      readOnlyNote,
      message,
    ),
    h(
      "section",
      { class: "card" },
      h("h2", { class: "section-title" }, "Timeline"),
      diagram(sequence),
    ),
    h(
      "details",
      {
        class: "card json",
        attrs: { open: state.jsonOpen },
        on: {
          toggle: (event) => {
            state.jsonOpen = (event.currentTarget as HTMLDetailsElement).open;
          },
        },
      },
      h("summary", null, "The call as JSON"),
      h("pre", { class: "mono", testid: "call-json" }, JSON.stringify(call, null, 2)),
    ),
  );
}

export const callPage = (container: HTMLElement, context: PageContext, callID: string) => {
  let stopped = false;
  let shown = "";
  const state: PageState = { message: "", error: false, jsonOpen: false };
  const show = (call: CallDetail) => {
    const json = JSON.stringify(call);
    if (stopped || json === shown) return;
    shown = json;
    render(container, context, call, state, () => void load());
  };
  const load = async () => {
    try {
      show(await api<CallDetail>(`/calls/${encodeURIComponent(callID)}`));
    } catch (error) {
      if (stopped) return;
      const text =
        error instanceof ApiError && error.status === 404
          ? `No call ${callID} (it may be past its retention).`
          : String((error as Error).message);
      replaceChildren(
        container,
        h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Call")),
        h("p", { class: "card empty", testid: "not-found" }, text),
      );
    }
  };
  void load();
  // The live stream carries this call too: each step (a send, a receipt, a device told, a push's
  // result, a member's answer) redraws the page as it is recorded.
  const off = context.feed.watchCall(callID, show);
  return () => {
    stopped = true;
    off();
  };
};

export type { Page };
