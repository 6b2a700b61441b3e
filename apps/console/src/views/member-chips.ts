// Members as small coloured chips: who, and their state in the call.
import { h } from "../element-builder.js";
import { userStateName, userStateTone } from "../format.js";

export function memberChips(
  members: ReadonlyArray<{ userID: string; state: number }>,
): HTMLElement {
  return h(
    "span",
    { class: "chips" },
    members.map((member) =>
      h(
        "span",
        {
          class: `chip chip-${userStateTone(member.state)}`,
          attrs: { "data-state": member.state },
        },
        h("a", { attrs: { href: `#/users/${encodeURIComponent(member.userID)}` } }, member.userID),
        ` · ${userStateName(member.state)}`,
      ),
    ),
  );
}
