// One call's delivery timeline under its history row (from callTimeline, a Beckon addition):
// for each device, when the server sent the invitation, when the device acknowledged it, each
// offline push and the answer given from it, in the server's time.
import type { CallTimelineDevice, CallTimelineResult } from "@beckon/sdk";
import { h } from "../element-builder.js";

export interface TimelineState {
  open: boolean;
  loading: boolean;
  result: CallTimelineResult | null;
  error: string | null;
}

const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
  hour12: false,
});

const answerNames: Record<string, string> = {
  "member.accepted": "accepted",
  "member.rejected": "declined",
  "member.joined": "joined",
  "member.quit": "left",
};

/** "12:00:03.310 (+3.3 s)": the time, and how long after the invitation was sent. */
function when(at: number, sentAt: number | undefined): string {
  const time = clockFormat.format(at);
  if (sentAt === undefined || at < sentAt) return time;
  const gap = at - sentAt;
  return `${time} (+${gap < 1_000 ? `${gap} ms` : `${(gap / 1_000).toFixed(1)} s`})`;
}

function step(name: string, testid: string, text: string | null): HTMLElement {
  return h(
    "li",
    { class: `timeline-step ${text === null ? "is-missing" : ""}`, testid },
    h("span", { class: "timeline-step-name" }, name),
    h("span", { class: "timeline-step-time" }, text ?? "—"),
  );
}

/** Who is "me" on this page: the user, and this tab's device. */
export interface Viewer {
  userID: string;
  deviceID: string;
}

function deviceRow(device: CallTimelineDevice, me: Viewer): HTMLElement {
  const { sentAt } = device;
  const pushes = device.pushes.map(
    (push) =>
      `${push.kind} via ${push.provider}: ${push.status}` +
      (push.doneAt > 0 ? ` ${when(push.doneAt, sentAt)}` : ""),
  );
  const answers = device.answers.map(
    (answer) => `${answerNames[answer.kind] ?? answer.kind} ${when(answer.at, sentAt)}`,
  );
  return h(
    "li",
    {
      class: "timeline-device",
      testid: "timeline-device",
      attrs: { "data-user-id": device.userID, "data-device-id": device.deviceID },
    },
    h(
      "p",
      { class: "timeline-device-name" },
      device.userID === me.userID ? `${device.userID} (you)` : device.userID,
      h(
        "span",
        { class: "meta", attrs: { title: device.deviceID } },
        device.userID === me.userID && device.deviceID === me.deviceID
          ? " · this device"
          : ` · device ${device.deviceID.length > 10 ? `${device.deviceID.slice(0, 8)}…` : device.deviceID}`,
      ),
    ),
    h(
      "ol",
      { class: "timeline-steps" },
      step("sent", "timeline-sent", sentAt === undefined ? null : when(sentAt, undefined)),
      step(
        "delivered",
        "timeline-delivered",
        device.receivedAt === undefined ? null : when(device.receivedAt, sentAt),
      ),
      step("pushed", "timeline-pushed", pushes.length > 0 ? pushes.join("; ") : null),
      step("answered", "timeline-answered", answers.length > 0 ? answers.join("; ") : null),
    ),
  );
}

export function callTimelineView(state: TimelineState, me: Viewer): HTMLElement {
  const { result } = state;
  return h(
    "div",
    { class: "call-timeline", testid: "call-timeline", attrs: { "aria-busy": state.loading } },
    state.error !== null
      ? h("p", { class: "empty", testid: "timeline-error" }, state.error)
      : result === null
        ? h("p", { class: "empty" }, "Loading…")
        : result.devices.length === 0
          ? h("p", { class: "empty", testid: "timeline-empty" }, "No device was sent this call.")
          : h(
              "ol",
              { class: "timeline-devices" },
              result.devices.map((device) => deviceRow(device, me)),
            ),
    h("p", { class: "hint" }, "Server times, from callTimeline (a Beckon addition)."),
  );
}
