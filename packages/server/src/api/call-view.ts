// A call as the server API shows it (`GET /api/calls/{id}`, and the live stream's `call` events):
// its members, each device's path and every step in time order.
import type { Call } from "@beckon/engine";
import type { PushRegistrationStore } from "../push/push-registration-store.js";
import type { DeliveryRecord } from "../timeline/call-log.js";
import {
  deviceTimelines,
  type TimelineEntry,
  timelineItems,
} from "../timeline/device-timelines.js";

/** Where a call's records come from (the server API's dependencies of the same names). */
export interface CallViewSources {
  timeline?: (callID: string) => Promise<TimelineEntry[]>;
  deliveries?: (callID: string) => Promise<DeliveryRecord[]>;
  pushRegistrations: Pick<PushRegistrationStore, "sendsOf">;
  settled?: () => Promise<void>;
}

function memberView(call: Call) {
  return call.members.map((member) => ({
    userID: member.userID,
    state: member.state,
    inviter: member.inviter,
    extendedData: member.extendedData,
    inviteTime: member.inviteTime,
    deadline: member.deadline,
    acceptTime: member.acceptTime,
    quitTime: member.quitTime,
    mainDevice: member.mainDevice,
  }));
}

export async function callView(sources: CallViewSources, call: Call) {
  await sources.settled?.();
  const [facts, deliveries, pushes] = await Promise.all([
    sources.timeline?.(call.callID) ?? [],
    sources.deliveries?.(call.callID) ?? [],
    sources.pushRegistrations.sendsOf(call.callID),
  ]);
  const records = { facts, deliveries, pushes };
  return {
    devices: deviceTimelines(records),
    callID: call.callID,
    caller: call.caller,
    mode: call.mode,
    state: call.state,
    createTime: call.createTime,
    endTime: call.endTime,
    timeout: call.timeout,
    extendedData: call.extendedData,
    members: memberView(call),
    timeline: timelineItems(records),
  };
}

export type CallView = Awaited<ReturnType<typeof callView>>;
