// The incoming-call screen: who calls, voice or video, the countdown to the server's deadline,
// and accept / decline. It stays up with the outcome when the call is cancelled or times out.
import { CallUserState } from "@beckon/sdk";
import type { CallBook, CallRecord } from "../call-book.js";
import { mediaLabel, mediaOf, modeLabel, userStateName } from "../call-labels.js";
import { h } from "../element-builder.js";
import { avatar } from "./avatar.js";
import type { CallActions } from "./call-actions.js";
import { countdown } from "./countdown.js";
import { icon } from "./icons.js";

export function incomingCall(call: CallRecord, book: CallBook, actions: CallActions): HTMLElement {
  const phase = book.phase(call);
  const ringing = phase === "ringing";
  const mine = call.members.get(book.me);
  const timedOut = mine?.state === CallUserState.Timeout;
  const others = [...call.members.keys()].filter(
    (userID) => userID !== book.me && userID !== call.caller,
  );
  const media = mediaOf(call.extendedData) ?? "call";
  const busy = actions.isBusy("accept", call.callID) || actions.isBusy("reject", call.callID);
  return h(
    "article",
    {
      class: `incoming ${ringing ? "is-ringing" : "is-over"}`,
      testid: "incoming-call",
      attrs: {
        "data-call-id": call.callID,
        "data-phase": phase,
        "data-state": mine ? userStateName(mine.state) : undefined,
        role: "alertdialog",
        "aria-label": `${mediaLabel(call.extendedData)} from ${call.caller}`,
      },
    },
    h("div", { class: "incoming-avatar" }, avatar(call.caller, "large")),
    h(
      "p",
      { class: "incoming-kicker", testid: "incoming-media", attrs: { "data-media": media } },
      icon(media === "voice" ? "mic" : "video"),
      `Incoming ${mediaLabel(call.extendedData).toLowerCase()} · ${modeLabel(call.mode)} mode`,
    ),
    h("h2", { class: "incoming-caller", testid: "incoming-caller" }, call.caller),
    h(
      "p",
      { class: "incoming-line" },
      call.inviter !== call.caller
        ? `${call.inviter} invites you into ${call.caller}'s call`
        : "is calling you",
    ),
    others.length > 0 ? h("p", { class: "incoming-with" }, `with ${others.join(", ")}`) : null,
    // Counting down while it rings; frozen at 0 once it timed out; gone after other outcomes.
    ringing || timedOut
      ? h(
          "p",
          { class: "incoming-timer" },
          countdown(
            "incoming-countdown",
            timedOut ? null : (mine?.deadline ?? null),
            "countdown-big",
          ),
          h("span", null, " s left to answer"),
        )
      : null,
    ringing
      ? h(
          "div",
          { class: "incoming-actions" },
          h(
            "button",
            {
              class: "round-button reject",
              testid: "incoming-decline",
              attrs: { type: "button", disabled: busy },
              on: { click: () => actions.reject(call.callID) },
            },
            h("span", { class: "round-icon" }, icon("phone", "icon-hang-up")),
            "Decline",
          ),
          h(
            "button",
            {
              class: "round-button accept",
              testid: "incoming-accept",
              attrs: { type: "button", disabled: busy },
              on: { click: () => actions.accept(call.callID) },
            },
            h("span", { class: "round-icon" }, icon("phone")),
            "Accept",
          ),
        )
      : h(
          "div",
          { class: "incoming-over" },
          h(
            "p",
            { class: `outcome tone-${book.outcome(call).tone}`, testid: "incoming-outcome" },
            book.outcome(call).reason,
          ),
          h(
            "button",
            {
              class: "button",
              testid: "incoming-close",
              attrs: { type: "button" },
              on: { click: () => actions.dismiss(call.callID) },
            },
            "Close",
          ),
        ),
  );
}
