// A call's records (facts, deliveries to devices, pushes) as a sequence diagram: a lane for the
// server and one per device, and each step an arrow from one lane to one or more others with
// its time, the time since the call was created and since the step before. Every step is one
// the server recorded: what it sent each device (the invitation, and each later event: another
// device answered, the call was cancelled or ended), each receipt, each push and its result.
import type { CallDetail, TimelineItem } from "./api-client.js";
import { userStateName } from "./format.js";

export const SERVER_LANE = "server";

export interface Lane {
  id: string;
  userID: string;
  deviceID: string;
  /** Sent the invitation and never acknowledged it. */
  neverReceived: boolean;
}

export type Tone = "good" | "bad" | "wait" | "info";

export interface Step {
  at: number;
  sinceStart: number;
  sincePrevious: number;
  /** Lane ids; equal when the step happens in one lane (the server deciding). */
  from: string;
  to: string;
  /** Every lane the step reaches (`to` is the farthest); more than one when devices were told. */
  targets: string[];
  label: string;
  tone: Tone;
  kind: string;
}

export interface Sequence {
  lanes: Lane[];
  steps: Step[];
}

interface Actor {
  userID: string;
  deviceID: string;
}

const laneID = (userID: string, deviceID: string) => `${userID}\u0000${deviceID}`;

function actorOf(item: TimelineItem): Actor | undefined {
  const by = item.detail.by as Partial<Actor> | undefined;
  if (by?.userID && by.deviceID) return { userID: by.userID, deviceID: by.deviceID };
  return undefined;
}

function deviceName(deviceID: string): string {
  return deviceID === "server-api" ? "server API" : deviceID;
}

/** What a device was told, in words. */
function toldWhat(item: TimelineItem): string {
  const event = String(item.detail.event ?? "");
  const users = item.detail.users as Array<{ userID: string; state: number }> | undefined;
  if (users && users.length > 0) {
    return users
      .map((user) => `${user.userID} ${userStateName(user.state).toLowerCase()}`)
      .join(", ");
  }
  switch (event) {
    case "callInvitationCancelled":
      return "invitation cancelled";
    case "callInvitationTimeout":
      return "invitation timed out";
    case "callInvitationEnded":
      return "call ended";
    case "callInvitationCreated":
      return "call created";
    default:
      return event;
  }
}

export function callSequence(call: CallDetail): Sequence {
  const lanes = new Map<string, Lane>();
  const lane = (userID: string, deviceID: string): string => {
    const id = laneID(userID, deviceID);
    if (!lanes.has(id)) lanes.set(id, { id, userID, deviceID, neverReceived: false });
    return id;
  };
  // The caller's devices first, then everyone in the order they were reached.
  for (const item of call.timeline) {
    const actor = actorOf(item);
    if (item.kind === "call.created" && actor) lane(actor.userID, actor.deviceID);
  }
  for (const device of call.devices) lane(device.userID, device.deviceID);
  for (const item of call.timeline) {
    if (item.kind === "device.told") lane(item.userID ?? "", item.deviceID ?? "");
  }
  const lanesOf = (userID: string) => [...lanes.values()].filter((l) => l.userID === userID);
  const order = [...lanes.keys()];
  const position = (id: string) => (id === SERVER_LANE ? -1 : order.indexOf(id));

  /** Each device's first send and first receipt (the server's records). */
  const sentAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  for (const item of call.timeline) {
    const id = laneID(item.userID ?? "", item.deviceID ?? "");
    if (item.kind === "invitation.sent" && !sentAt.has(id)) sentAt.set(id, item.at);
    if (item.kind === "invitation.received" && !receivedAt.has(id)) receivedAt.set(id, item.at);
  }
  const raw: Array<Omit<Step, "sinceStart" | "sincePrevious">> = [];
  const add = (
    item: TimelineItem,
    from: string,
    to: string | string[],
    label: string,
    tone: Tone,
  ) => {
    // Several targets only ever come from the server, the leftmost lane: the last is farthest.
    const targets = (Array.isArray(to) ? to : [to]).sort((a, b) => position(a) - position(b));
    raw.push({
      at: item.at,
      from,
      to: targets.at(-1) ?? from,
      targets,
      label,
      tone,
      kind: item.kind,
    });
  };
  /** The told steps by (time, what): devices told the same thing at once share a row. */
  const told = new Map<string, { item: TimelineItem; targets: string[] }>();

  for (const item of call.timeline) {
    const actor = actorOf(item);
    const user = item.userID ?? "";
    const device = item.deviceID ?? "";
    switch (item.kind) {
      case "call.created": {
        const from = actor ? lane(actor.userID, actor.deviceID) : SERVER_LANE;
        add(item, from, SERVER_LANE, `Call created by ${call.caller}`, "info");
        break;
      }
      case "member.invited":
        add(
          item,
          SERVER_LANE,
          SERVER_LANE,
          `${user} invited${item.detail.inviter ? ` by ${String(item.detail.inviter)}` : ""}`,
          "info",
        );
        break;
      case "invitation.sent":
        add(item, SERVER_LANE, lane(user, device), `Sent to ${user} · ${device}`, "wait");
        break;
      case "invitation.received":
        add(item, lane(user, device), SERVER_LANE, `Received on ${user} · ${device}`, "good");
        break;
      case "device.told": {
        const what = toldWhat(item);
        const key = `${item.at}\u0000${what}`;
        const group = told.get(key);
        if (group) group.targets.push(lane(user, device));
        else {
          told.set(key, { item, targets: [lane(user, device)] });
          // Its place in time order; filled in below, once every device told is known.
          raw.push({
            at: item.at,
            from: SERVER_LANE,
            to: key,
            targets: [],
            label: what,
            tone: "info",
            kind: item.kind,
          });
        }
        break;
      }
      case "member.received":
        // The device's own receipt row says it already, with the device's time.
        if (actor && !receivedAt.has(laneID(actor.userID, actor.deviceID))) {
          add(item, lane(actor.userID, actor.deviceID), SERVER_LANE, `Received by ${user}`, "good");
        }
        break;
      case "member.notYetReceived": {
        // The devices sent the invitation that had not acknowledged it when the check ran.
        const silent = lanesOf(user)
          .filter((l) => sentAt.has(l.id))
          .filter((l) => (receivedAt.get(l.id) ?? Number.POSITIVE_INFINITY) > item.at)
          .map((l) => l.id);
        const names = silent.map((id) => lanes.get(id)?.deviceID ?? "").join(", ");
        add(
          item,
          SERVER_LANE,
          silent.length > 0 ? silent : SERVER_LANE,
          `Not yet received by ${user}${names ? ` (${names})` : ""}`,
          "bad",
        );
        break;
      }
      case "member.accepted":
      case "member.rejected":
      case "member.joined":
      case "member.quit": {
        const verb = item.kind.slice("member.".length);
        const what =
          verb === "accepted"
            ? "Accepted"
            : verb === "rejected"
              ? "Rejected"
              : verb === "joined"
                ? "Joined"
                : "Quit";
        const from = actor ? lane(actor.userID, actor.deviceID) : SERVER_LANE;
        const where = actor ? ` on ${deviceName(actor.deviceID)}` : " (disconnected)";
        add(
          item,
          from,
          SERVER_LANE,
          `${what} by ${user}${where}`,
          verb === "rejected" || verb === "quit" ? "bad" : "good",
        );
        break;
      }
      case "member.cancelled": {
        const from = actor ? lane(actor.userID, actor.deviceID) : SERVER_LANE;
        const who = actor ? `by ${actor.userID}` : "(caller gone)";
        add(item, from, SERVER_LANE, `${user}'s invitation cancelled ${who}`, "bad");
        break;
      }
      case "member.timedOut":
        add(item, SERVER_LANE, SERVER_LANE, `${user} timed out`, "bad");
        break;
      case "call.ended": {
        const by = actor ? ` by ${actor.userID}` : "";
        add(
          item,
          actor ? lane(actor.userID, actor.deviceID) : SERVER_LANE,
          SERVER_LANE,
          `Call ended${by}`,
          "info",
        );
        break;
      }
      default:
        if (item.kind.startsWith("push.")) {
          const status = item.kind.slice("push.".length);
          const http = Number(item.detail.httpStatus ?? 0);
          const reason = String(item.detail.reason ?? "");
          const result = `${status}${http ? ` (${http})` : ""}${reason ? `: ${reason}` : ""}`;
          add(
            item,
            SERVER_LANE,
            lane(user, device),
            `Pushed ${String(item.detail.push ?? "")} via ${String(item.detail.provider ?? "")} — ${result}`,
            status === "sent" ? "wait" : status === "queued" ? "info" : "bad",
          );
        } else add(item, SERVER_LANE, SERVER_LANE, item.kind, "info");
    }
  }

  // The told rows: every device told, named, and the arrow to the farthest of them.
  for (const [index, step] of raw.entries()) {
    if (step.kind !== "device.told") continue;
    const group = told.get(step.to);
    if (!group) continue;
    const targets = [...group.targets].sort((a, b) => position(a) - position(b));
    const names = targets
      .map((id) => lanes.get(id))
      .map((l) => (l ? `${l.userID} · ${l.deviceID}` : ""))
      .join(", ");
    raw[index] = {
      ...step,
      to: targets.at(-1) ?? SERVER_LANE,
      targets,
      label: `Told ${names}: ${step.label}`,
    };
  }

  for (const [id, entry] of lanes) {
    if (sentAt.has(id) && !receivedAt.has(id)) entry.neverReceived = true;
  }
  const start = call.createTime;
  let previous = start;
  const steps = raw.map((step) => {
    const done = { ...step, sinceStart: step.at - start, sincePrevious: step.at - previous };
    previous = step.at;
    return done;
  });
  return { lanes: [...lanes.values()], steps };
}
