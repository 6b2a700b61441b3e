// A call's records (facts, deliveries to devices, pushes) as a sequence diagram: a lane for the
// server and one per device, and each step an arrow between two lanes with its time, the time
// since the call was created and since the step before. Steps the rules imply but nobody
// records (a user's other devices are told when one answers) are marked as derived.
import type { CallDetail, TimelineItem } from "./api-client.js";

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
  label: string;
  tone: Tone;
  kind: string;
  /** Implied by the rules rather than recorded. */
  derived: boolean;
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
  const lanesOf = (userID: string) => [...lanes.values()].filter((l) => l.userID === userID);

  const receipts = new Set(
    call.timeline
      .filter((item) => item.kind === "invitation.received")
      .map((item) => laneID(item.userID ?? "", item.deviceID ?? "")),
  );
  const raw: Array<Omit<Step, "sinceStart" | "sincePrevious">> = [];
  const add = (
    item: TimelineItem,
    from: string,
    to: string,
    label: string,
    tone: Tone,
    derived = false,
  ) => raw.push({ at: item.at, from, to, label, tone, kind: item.kind, derived });
  /** The user's other devices are told of the answer (they stop ringing). */
  const tellOthers = (item: TimelineItem, actor: Actor, what: string) => {
    for (const other of lanesOf(actor.userID)) {
      if (other.deviceID === actor.deviceID) continue;
      add(
        item,
        SERVER_LANE,
        other.id,
        `Told ${other.deviceID}: ${what} on ${deviceName(actor.deviceID)}`,
        "info",
        true,
      );
    }
  };

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
      case "member.received":
        // The device's own receipt row says it already, with the device's time.
        if (actor && !receipts.has(laneID(actor.userID, actor.deviceID))) {
          add(item, lane(actor.userID, actor.deviceID), SERVER_LANE, `Received by ${user}`, "good");
        }
        break;
      case "member.notYetReceived": {
        const silent = lanesOf(user).filter((l) => !receipts.has(l.id));
        add(item, SERVER_LANE, silent[0]?.id ?? SERVER_LANE, `Not yet received by ${user}`, "bad");
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
        if (actor && (verb === "accepted" || verb === "rejected")) tellOthers(item, actor, verb);
        break;
      }
      case "member.cancelled": {
        const from = actor ? lane(actor.userID, actor.deviceID) : SERVER_LANE;
        const who = actor ? `by ${actor.userID}` : "(caller gone)";
        add(item, from, SERVER_LANE, `${user}'s invitation cancelled ${who}`, "bad");
        for (const target of lanesOf(user)) {
          add(item, SERVER_LANE, target.id, `Told ${target.deviceID}: cancelled`, "info", true);
        }
        break;
      }
      case "member.timedOut":
        add(item, SERVER_LANE, lanesOf(user)[0]?.id ?? SERVER_LANE, `${user} timed out`, "bad");
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

  for (const device of call.devices) {
    const entry = lanes.get(laneID(device.userID, device.deviceID));
    if (entry && device.sentAt !== undefined && device.receivedAt === undefined) {
      entry.neverReceived = true;
    }
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
