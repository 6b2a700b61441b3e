// "Ring me with the tab closed": turns on Web Push for this browser (a click, as browsers
// require for the permission prompt) and says plainly whether it worked and, if not, why.
import { h } from "../element-builder.js";

export type PushPanelState =
  | { kind: "off" }
  | { kind: "working" }
  | { kind: "on" }
  | { kind: "failed"; why: string }
  | { kind: "unsupported"; why: string };

export function pushPanel(state: PushPanelState, onEnable: () => void): HTMLElement {
  const text =
    state.kind === "on"
      ? "On: when this tab is closed or hidden, a call shows as a system notification with " +
        "Accept and Decline."
      : state.kind === "failed" || state.kind === "unsupported"
        ? state.why
        : "Get calls as system notifications when this tab is closed or hidden (Web Push).";
  const button =
    state.kind === "on" || state.kind === "unsupported"
      ? null
      : h(
          "button",
          {
            class: "button button-small",
            testid: "push-enable",
            attrs: { type: "button", disabled: state.kind === "working" },
            on: { click: onEnable },
          },
          state.kind === "working"
            ? "Turning on…"
            : state.kind === "failed"
              ? "Try again"
              : "Turn on",
        );
  return h(
    "section",
    {
      class: `card push-panel push-${state.kind}`,
      testid: "push-panel",
      attrs: { "data-state": state.kind, "aria-label": "Calls with the tab closed" },
    },
    h("div", { class: "card-head" }, h("h2", null, "Ring with the tab closed"), button),
    h(
      "p",
      {
        class: state.kind === "failed" || state.kind === "unsupported" ? "push-problem" : "hint",
        testid: "push-status",
        attrs: { role: state.kind === "failed" ? "alert" : null },
      },
      text,
    ),
  );
}
