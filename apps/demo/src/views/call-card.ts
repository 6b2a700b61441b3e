// One call as this device sees it after the ringing: outgoing (with each invitee's live state),
// in the call (advanced mode: add people, quit, end), or over with its outcome.
import { CallInvitationMode, CallUserState } from "@beckon/sdk";
import { type CallBook, type CallRecord, isPendingState } from "../call-book.js";
import { mediaLabel, mediaOf, modeLabel } from "../call-labels.js";
import { h } from "../element-builder.js";
import type { CallActions } from "./call-actions.js";
import { memberList } from "./member-list.js";

function title(call: CallRecord, book: CallBook): string {
  const others = [...call.members.values()].filter((member) => member.userID !== book.me);
  const accepted = others.filter((member) => member.state === CallUserState.Accepted);
  const ringing = others.filter((member) => isPendingState(member.state));
  switch (book.phase(call)) {
    case "outgoing":
      return `Calling ${ringing.map((member) => member.userID).join(", ")}…`;
    case "in-call":
      return accepted.length > 0
        ? `In call with ${accepted.map((member) => member.userID).join(", ")}`
        : "Only you are in the call";
    case "ringing":
      return `${call.caller} is calling`;
    default: {
      const names = others.map((member) => member.userID).join(", ");
      return call.caller === book.me ? `Call to ${names}` : `Call from ${call.caller}`;
    }
  }
}

function button(
  label: string,
  testid: string,
  onClick: () => void,
  options: { kind?: "primary" | "danger" | "quiet"; busy?: boolean } = {},
): HTMLButtonElement {
  return h(
    "button",
    {
      class: `button ${options.kind ? `button-${options.kind}` : ""}`.trim(),
      testid,
      attrs: { type: "button", disabled: options.busy ?? false, "aria-busy": options.busy },
      on: { click: onClick },
    },
    label,
  );
}

export function callCard(call: CallRecord, book: CallBook, actions: CallActions): HTMLElement {
  const phase = book.phase(call);
  const over = phase === "over";
  const advanced = call.mode === CallInvitationMode.Advanced;
  const iAmIn = book.myState(call) === CallUserState.Accepted && !over;
  const nobodyAccepted = ![...call.members.values()].some(
    (member) => member.userID !== call.caller && member.state === CallUserState.Accepted,
  );
  const canCancel =
    !over && call.caller === book.me && nobodyAccepted && phase === "outgoing" && call.mainHere;
  const id = call.callID;
  const busy = (action: string) => actions.isBusy(action, id);

  const addPeople =
    advanced && iAmIn
      ? h(
          "form",
          {
            class: "add-people",
            on: {
              submit: (event) => {
                event.preventDefault();
                actions.addPeople(id, actions.draft(id));
              },
            },
          },
          h("label", { class: "visually-hidden", attrs: { for: `add-${id}` } }, "Add people"),
          (() => {
            const input = h("input", {
              class: "input",
              testid: "add-people-input",
              attrs: {
                id: `add-${id}`,
                placeholder: "Add people: user IDs",
                autocomplete: "off",
                autocapitalize: "none",
                spellcheck: "false",
              },
              on: {
                input: (event) => actions.setDraft(id, (event.target as HTMLInputElement).value),
              },
            });
            input.value = actions.draft(id);
            return input;
          })(),
          h(
            "button",
            {
              class: "button button-primary",
              testid: "add-people-button",
              attrs: { type: "submit", disabled: busy("addPeople") },
            },
            "Invite",
          ),
        )
      : null;

  const controls = [
    canCancel
      ? button("Cancel call", "call-cancel", () => actions.cancel(id), {
          kind: "danger",
          busy: busy("cancel"),
        })
      : null,
    !advanced && phase === "in-call"
      ? button("Hang up (this device only)", "call-hangup", () => actions.hangUp(id), {
          kind: "danger",
        })
      : null,
    advanced && iAmIn
      ? button("Leave call", "call-quit", () => actions.quit(id), { busy: busy("quit") })
      : null,
    advanced && iAmIn
      ? button("End for everyone", "call-end", () => actions.end(id), {
          kind: "danger",
          busy: busy("end"),
        })
      : null,
    over ? button("Dismiss", "call-dismiss", () => actions.dismiss(id)) : null,
  ].filter((control) => control !== null);

  const media = mediaOf(call.extendedData) ?? "call";
  return h(
    "article",
    {
      class: `card call-card phase-${phase}`,
      testid: "call-card",
      attrs: { "data-call-id": id, "data-phase": phase, "data-media": media },
    },
    h(
      "header",
      { class: "call-card-head" },
      h(
        "div",
        null,
        h("h3", { class: "call-title", testid: "call-title" }, title(call, book)),
        h(
          "p",
          { class: "meta" },
          `${mediaLabel(call.extendedData)} · ${modeLabel(call.mode)} mode · `,
          call.caller === book.me ? "you called" : `from ${call.caller}`,
        ),
      ),
      h(
        "span",
        { class: `phase-badge phase-badge-${phase}`, testid: "call-phase" },
        { ringing: "Ringing", outgoing: "Ringing", "in-call": "In call", over: "Over" }[phase],
      ),
    ),
    over
      ? h(
          "p",
          { class: `outcome tone-${book.outcome(call).tone}`, testid: "call-outcome" },
          book.outcome(call).reason,
        )
      : null,
    memberList(call.members.values(), book.me, call.caller, !over),
    addPeople,
    controls.length > 0 ? h("div", { class: "call-controls" }, controls) : null,
    !advanced && phase === "in-call"
      ? h(
          "p",
          { class: "hint" },
          "General mode: Beckon's part ended when the call was answered. Hanging up is your " +
            "app's media business and the other side is not told; advanced mode has leave and end.",
        )
      : null,
    h(
      "p",
      { class: "call-id" },
      "Call ID ",
      h(
        "code",
        { testid: "call-id", attrs: { title: "others can join an advanced call by ID" } },
        id,
      ),
    ),
  );
}
