// "Make a call": who to ring (typed, or picked from the people list), voice or video, general
// or advanced mode, and how long it rings. The form lives for the whole session, so what is
// typed survives every re-render of the calls around it.
import { CallInvitationMode } from "@beckon/sdk";
import { type MediaKind, parseUserList } from "../call-labels.js";
import { h } from "../element-builder.js";
import { icon } from "./icons.js";

export interface DialerValues {
  invitees: string[];
  media: MediaKind;
  mode: CallInvitationMode;
  timeout: number;
  notReceivedCheck: boolean;
}

export interface DialerView {
  element: HTMLElement;
  /** Where the app renders the people list. */
  peopleSlot: HTMLElement;
  values(): DialerValues;
  selected(): Set<string>;
  toggle(userID: string): void;
  setBusy(busy: boolean): void;
}

const modeHints: Record<CallInvitationMode, string> = {
  [CallInvitationMode.Unknown]: "",
  [CallInvitationMode.General]:
    "General: the call is settled once everyone has answered; after that it is your app's.",
  [CallInvitationMode.Advanced]:
    "Advanced: the call stays open; members can add people, leave, or end it for everyone.",
};

function segmented<T extends string>(
  name: string,
  legend: string,
  options: { value: T; label: string; testid: string; icon?: SVGSVGElement }[],
  initial: T,
  onChange: () => void,
): { element: HTMLElement; value(): T } {
  const inputs = options.map((option) =>
    h("input", {
      attrs: { type: "radio", name, value: option.value, checked: option.value === initial },
      on: { change: onChange },
    }),
  );
  const element = h(
    "fieldset",
    { class: "segmented" },
    h("legend", null, legend),
    h(
      "div",
      { class: "segments" },
      options.map((option, index) =>
        h(
          "label",
          { class: "segment", testid: option.testid },
          inputs[index],
          h("span", null, option.icon ?? null, option.label),
        ),
      ),
    ),
  );
  return {
    element,
    value: () => (inputs.find((input) => input.checked)?.value ?? initial) as T,
  };
}

export function createDialerView(onCall: (values: DialerValues) => void): DialerView {
  const invitees = h("input", {
    class: "input",
    testid: "invitees-input",
    attrs: {
      id: "invitees",
      placeholder: "user IDs, e.g. bob, carol",
      autocomplete: "off",
      autocapitalize: "none",
      spellcheck: "false",
    },
    on: { input: () => update() },
  });
  const media = segmented<MediaKind>(
    "media",
    "Call type",
    [
      { value: "voice", label: "Voice", testid: "media-voice", icon: icon("mic") },
      { value: "video", label: "Video", testid: "media-video", icon: icon("video") },
    ],
    "video",
    () => update(),
  );
  const mode = segmented<"general" | "advanced">(
    "mode",
    "Mode",
    [
      { value: "general", label: "General", testid: "mode-general" },
      { value: "advanced", label: "Advanced", testid: "mode-advanced" },
    ],
    "general",
    () => update(),
  );
  const modeHint = h("p", { class: "hint" });
  const timeout = h("input", {
    class: "input input-narrow",
    testid: "timeout-input",
    attrs: {
      id: "timeout",
      type: "number",
      min: 1,
      max: 600,
      step: 1,
      value: 30,
      inputmode: "numeric",
    },
  });
  const notReceived = h("input", {
    testid: "not-received-check",
    attrs: { type: "checkbox", checked: true },
  });
  const call = h(
    "button",
    {
      class: "button button-primary button-wide button-call",
      testid: "call-button",
      attrs: { type: "submit" },
    },
    "Call",
  );
  const peopleSlot = h("div", { class: "people-slot" });

  const modeValue = () =>
    mode.value() === "advanced" ? CallInvitationMode.Advanced : CallInvitationMode.General;
  const update = () => {
    const people = parseUserList(invitees.value);
    const kind = media.value() === "video" ? "Video call" : "Voice call";
    call.textContent = people.length > 0 ? `${kind} ${people.join(", ")}` : kind;
    modeHint.textContent = modeHints[modeValue()];
    element.dispatchEvent(new CustomEvent("selection-change"));
  };

  const element = h(
    "section",
    { class: "card dialer", testid: "dialer" },
    h("header", { class: "card-head" }, h("h2", null, "Make a call")),
    h(
      "form",
      {
        on: {
          submit: (event) => {
            event.preventDefault();
            onCall(view.values());
          },
        },
      },
      h("div", { class: "field" }, h("label", { attrs: { for: "invitees" } }, "Who"), invitees),
      peopleSlot,
      h("div", { class: "row" }, media.element, mode.element),
      modeHint,
      h(
        "div",
        { class: "row row-baseline" },
        h(
          "label",
          { class: "inline-field", attrs: { for: "timeout" } },
          "Ring for ",
          timeout,
          " s",
        ),
        h("label", { class: "check" }, notReceived, ' Flag "not yet received" after 5 s'),
      ),
      call,
    ),
  );

  const view: DialerView = {
    element,
    peopleSlot,
    values: () => ({
      invitees: parseUserList(invitees.value),
      media: media.value(),
      mode: modeValue(),
      timeout: Number(timeout.value),
      notReceivedCheck: notReceived.checked,
    }),
    selected: () => new Set(parseUserList(invitees.value)),
    toggle(userID) {
      const people = parseUserList(invitees.value);
      const next = people.includes(userID)
        ? people.filter((person) => person !== userID)
        : [...people, userID];
      invitees.value = next.join(", ");
      update();
    },
    setBusy(busy) {
      call.disabled = busy;
      call.setAttribute("aria-busy", String(busy));
    },
  };
  update();
  return view;
}
