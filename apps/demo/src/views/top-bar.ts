// The bar at the top: the connection state (always visible) and who is signed in.
import type { ConnectionState } from "@beckon/sdk";
import { ConnectionState as State } from "@beckon/sdk";
import { connectionLabel } from "../call-labels.js";
import { h } from "../element-builder.js";
import { avatar } from "./avatar.js";

export function topBarContent(
  state: ConnectionState,
  userID: string | null,
  onSignOut: () => void,
): HTMLElement[] {
  // Before signing in "Disconnected" is the normal state, not an alarm.
  const idle = userID === null && state === State.Disconnected;
  return [
    h(
      "a",
      { class: "brand", attrs: { href: "./" } },
      h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }, "◉"),
      "Beckon",
      h("span", { class: "brand-sub" }, "demo"),
    ),
    h(
      "span",
      {
        class: `connection connection-${idle ? "idle" : (State[state]?.toLowerCase() ?? "unknown")}`,
        testid: "connection-state",
        attrs: { "data-state": State[state] ?? String(state), role: "status" },
      },
      h("span", { class: "connection-dot", attrs: { "aria-hidden": "true" } }),
      idle ? "Not signed in" : connectionLabel(state),
    ),
    userID
      ? h(
          "span",
          { class: "who" },
          avatar(userID),
          h("span", { class: "who-name", testid: "current-user" }, userID),
          h(
            "button",
            {
              class: "button button-quiet button-small",
              testid: "logout",
              attrs: { type: "button" },
              on: { click: onSignOut },
            },
            "Sign out",
          ),
        )
      : h("span", { class: "who" }),
  ];
}
