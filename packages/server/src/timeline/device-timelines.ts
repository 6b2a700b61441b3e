// A call's records (committed facts, deliveries to devices, offline pushes) turned into what the
// server API and the `callTimeline` operation show: each device's sent → received → pushed →
// answered path, and one list of everything in time order (with, for the operator, each other
// event the server put on a device's stream: `device.told`).

import type { Fact } from "@beckon/engine";
import type {
  CallTimelineAnswer,
  CallTimelineAnswerKind,
  CallTimelineDevice,
  CallTimelineResult,
} from "@beckon/protocol";
import type { PushSend } from "../push/push-registration-store.js";
import { type DeliveryRecord, isTold } from "./call-log.js";

/** A committed fact as a timeline shows it: who (and from which device) did what, when. */
export interface TimelineEntry {
  at: number;
  kind: Fact["kind"];
  userID?: string;
  /** The device that acted; absent when a timer did or the fact is about the whole call. */
  deviceID?: string;
  fact: Fact;
}

/** A call's committed facts, in commit order, as timeline entries. */
export function timelineEntries(facts: readonly Fact[]): TimelineEntry[] {
  return facts.map((fact) => {
    const userID =
      "userID" in fact ? fact.userID : fact.kind === "call.created" ? fact.caller : fact.by?.userID;
    return {
      at: fact.at,
      kind: fact.kind,
      ...(userID !== undefined ? { userID } : {}),
      ...(fact.by?.deviceID ? { deviceID: fact.by.deviceID } : {}),
      fact,
    };
  });
}

export interface CallRecords {
  facts: readonly TimelineEntry[];
  deliveries: readonly DeliveryRecord[];
  pushes: readonly PushSend[];
}

/** The API's view of a push: the member-facing one plus the provider's answer. */
export type DevicePush = Pick<
  PushSend,
  "kind" | "status" | "provider" | "queuedAt" | "doneAt" | "httpStatus" | "reason"
>;

export interface DeviceTimeline extends Omit<CallTimelineDevice, "pushes"> {
  pushes: DevicePush[];
}

export interface TimelineItem {
  at: number;
  kind: string;
  userID?: string;
  deviceID?: string;
  detail: Record<string, unknown>;
}

const answerKinds: ReadonlySet<string> = new Set<CallTimelineAnswerKind>([
  "member.accepted",
  "member.rejected",
  "member.joined",
  "member.quit",
]);

function isAnswer(kind: string): kind is CallTimelineAnswerKind {
  return answerKinds.has(kind);
}

/** Each device that was sent, acknowledged, pushed or answered, in the order it first shows. */
export function deviceTimelines({ facts, deliveries, pushes }: CallRecords): DeviceTimeline[] {
  const devices = new Map<string, DeviceTimeline>();
  const deviceOf = (userID: string, deviceID: string) => {
    const key = `${userID}\u0000${deviceID}`;
    let device = devices.get(key);
    if (!device) {
      device = { userID, deviceID, pushes: [], answers: [] };
      devices.set(key, device);
    }
    return device;
  };
  for (const record of deliveries) {
    if (isTold(record.step)) continue;
    const device = deviceOf(record.userID, record.deviceID);
    // Oldest first: the first send is when the device began ringing.
    if (record.step === "sent") device.sentAt ??= record.at;
    else if (record.step === "received") device.receivedAt ??= record.at;
  }
  for (const entry of facts) {
    // Only what a member did from their own device (not an API action or a timer).
    if (!entry.userID || !entry.deviceID || entry.fact.by?.userID !== entry.userID) continue;
    if (entry.kind === "member.received") {
      // The member's first receipt (also in the deliveries, unless those were not kept).
      const device = deviceOf(entry.userID, entry.deviceID);
      device.receivedAt = Math.min(device.receivedAt ?? entry.at, entry.at);
    } else if (isAnswer(entry.kind)) {
      const answer: CallTimelineAnswer = { kind: entry.kind, at: entry.at };
      deviceOf(entry.userID, entry.deviceID).answers.push(answer);
    }
  }
  for (const send of pushes) {
    deviceOf(send.userID, send.deviceID).pushes.push({
      kind: send.kind,
      status: send.status,
      provider: send.provider,
      queuedAt: send.queuedAt,
      doneAt: send.doneAt,
      httpStatus: send.httpStatus,
      reason: send.reason,
    });
  }
  return [...devices.values()];
}

/** Facts, sends and pushes in time order, each with its details (the server API's form). */
export function timelineItems({ facts, deliveries, pushes }: CallRecords): TimelineItem[] {
  return [
    ...facts.map(({ fact, ...entry }): TimelineItem => {
      const { kind: _kind, callID: _callID, at: _at, ...detail } = fact;
      return { ...entry, detail };
    }),
    ...deliveries.map(
      (record): TimelineItem => ({
        at: record.at,
        kind: isTold(record.step) ? "device.told" : `invitation.${record.step}`,
        userID: record.userID,
        deviceID: record.deviceID,
        detail: isTold(record.step)
          ? toldDetail(record.step)
          : record.step === "sent"
            ? { deadline: record.deadline }
            : {},
      }),
    ),
    ...pushes.map(
      (send): TimelineItem => ({
        at: send.doneAt || send.queuedAt,
        kind: `push.${send.status}`,
        userID: send.userID,
        deviceID: send.deviceID,
        detail: {
          push: send.kind,
          provider: send.provider,
          httpStatus: send.httpStatus,
          reason: send.reason,
          queuedAt: send.queuedAt,
        },
      }),
    ),
  ].sort((a, b) => a.at - b.at);
}

/** A `told` step's event and, for a state change, the users it named with their new state. */
function toldDetail(step: `told ${string}`): Record<string, unknown> {
  const [event = "", list] = step.slice("told ".length).split(" ");
  if (list === undefined) return { event };
  const users = list.split(",").map((entry) => {
    const colon = entry.lastIndexOf(":");
    return { userID: entry.slice(0, colon), state: Number(entry.slice(colon + 1)) };
  });
  return { event, users };
}

/**
 * What a member of the call is shown: the same paths and list without the provider's answers
 * (status codes and reasons are for the operator) or the facts' details.
 */
export function memberTimeline(callID: string, records: CallRecords): CallTimelineResult {
  return {
    callID,
    devices: deviceTimelines(records).map((device) => ({
      ...device,
      pushes: device.pushes.map(({ kind, status, provider, queuedAt, doneAt }) => ({
        kind,
        status,
        provider,
        queuedAt,
        doneAt,
      })),
    })),
    // What other devices were told is the operator's view; a member sees their own events.
    entries: timelineItems({
      ...records,
      deliveries: records.deliveries.filter((record) => !isTold(record.step)),
    }).map(({ at, kind, userID, deviceID }) => ({
      at,
      kind,
      ...(userID !== undefined ? { userID } : {}),
      ...(deviceID !== undefined ? { deviceID } : {}),
    })),
  };
}
