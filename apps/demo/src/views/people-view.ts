// "People": user IDs this browser remembers, marked when they are signed in in another tab here.
// Labelled for what it is: Beckon has no presence API, so this is not "who is online".
import { h } from "../element-builder.js";
import { avatar } from "./avatar.js";

export interface Person {
  userID: string;
  /** Signed in in another tab of this browser right now. */
  inOtherTab: boolean;
}

export function peopleView(
  people: readonly Person[],
  selected: ReadonlySet<string>,
  onToggle: (userID: string) => void,
  onForget: (userID: string) => void,
): HTMLElement {
  return h(
    "div",
    { class: "people", testid: "people" },
    h(
      "p",
      { class: "hint" },
      people.length > 0
        ? "Recent on this browser (not an online list: Beckon has no presence). A green dot: " +
            "signed in in another tab here. Anyone who has signed in once can be called."
        : "Type any user ID. Names you use on this browser will show up here; a user must have " +
            "signed in once to be called.",
    ),
    people.length > 0
      ? h(
          "ul",
          { class: "chips" },
          people.map((person) =>
            h(
              "li",
              {
                class: `chip person ${selected.has(person.userID) ? "is-selected" : ""}`,
                testid: "person",
                attrs: { "data-user-id": person.userID, "data-in-other-tab": person.inOtherTab },
              },
              h(
                "button",
                {
                  class: "chip-main",
                  attrs: {
                    type: "button",
                    "aria-pressed": selected.has(person.userID),
                    title: selected.has(person.userID) ? "Remove from the call" : "Add to the call",
                  },
                  on: { click: () => onToggle(person.userID) },
                },
                avatar(person.userID),
                person.userID,
                person.inOtherTab
                  ? h("span", { class: "dot", attrs: { title: "signed in in another tab" } })
                  : null,
              ),
              h(
                "button",
                {
                  class: "chip-forget",
                  attrs: {
                    type: "button",
                    "aria-label": `Forget ${person.userID}`,
                    title: "Forget",
                  },
                  on: { click: () => onForget(person.userID) },
                },
                "×",
              ),
            ),
          ),
        )
      : null,
  );
}
