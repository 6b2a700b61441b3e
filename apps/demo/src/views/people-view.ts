// "People": who is online (from the development server) and the user IDs this browser remembers.
import { h } from "../element-builder.js";
import { avatar } from "./avatar.js";

export interface Person {
  userID: string;
  /** Has a device connected to the server right now. */
  online: boolean;
}

export function peopleView(
  people: readonly Person[],
  presenceKnown: boolean,
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
      people.length === 0
        ? "Type any user ID. Who is online and names you use on this browser show up here; a " +
            "user must have signed in once to be called."
        : presenceKnown
          ? "A green dot: online now (the development server lists who is connected). Others " +
            "are names used on this browser; anyone who has signed in once can be called."
          : "Names used on this browser. This server is in production mode and does not say " +
            "who is online; anyone who has signed in once can be called.",
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
                attrs: { "data-user-id": person.userID, "data-online": person.online },
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
                person.online ? h("span", { class: "dot", attrs: { title: "online now" } }) : null,
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
