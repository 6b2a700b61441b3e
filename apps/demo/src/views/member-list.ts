// The members of a call with their live state, and a countdown while an invitation rings.
import { CallUserState } from "@beckon/sdk";
import { isPendingState, type MemberRecord } from "../call-book.js";
import { memberLook, userStateLook, userStateName } from "../call-labels.js";
import { h } from "../element-builder.js";
import { avatar } from "./avatar.js";
import { countdown } from "./countdown.js";

export function statePill(
  state: CallUserState,
  testid = "member-state",
  look = userStateLook(state),
): HTMLElement {
  return h(
    "span",
    { class: `pill tone-${look.tone}`, testid, attrs: { "data-state": userStateName(state) } },
    look.label,
  );
}

export function memberList(
  members: Iterable<MemberRecord>,
  me: string,
  caller: string,
  /** false once the call is over for this device. */
  going = true,
): HTMLElement {
  const all = [...members];
  return h(
    "ul",
    { class: "members", testid: "members" },
    all.map((member) => {
      const pendingNow = isPendingState(member.state);
      const timedOut = member.state === CallUserState.Timeout;
      const tags = [member.userID === me ? "you" : null, member.userID === caller ? "caller" : null]
        .filter(Boolean)
        .join(", ");
      return h(
        "li",
        {
          class: "member",
          testid: "member",
          attrs: { "data-user-id": member.userID, "data-state": userStateName(member.state) },
        },
        avatar(member.userID),
        h("span", { class: "member-name" }, member.userID, tags && h("small", null, ` (${tags})`)),
        (pendingNow && member.deadline !== null) || timedOut
          ? h(
              "span",
              {
                class: "member-timer",
                attrs: { title: "seconds until this invitation times out" },
              },
              countdown("member-countdown", timedOut ? null : member.deadline),
              "s",
            )
          : null,
        statePill(member.state, "member-state", memberLook(member, caller, all, going)),
      );
    }),
  );
}
