// What a call's timeline is made of, as the store commits it: each commit's facts and, in the
// same entry, the device deliveries (which device was sent the invitation, which acknowledged
// it) the node saw since its previous commit of the call. Nothing is written for a timeline
// alone; the facts the hooks are handed are the same rows.
import type { Fact } from "@beckon/engine";

/**
 * `sent`: the invitation was put on the device's event stream (written at once to an attached
 * socket, replayed on resume to one that is away). `received`: the device's receipt came in.
 */
export type DeliveryStep = "sent" | "received";

export interface DeliveryRecord {
  callID: string;
  userID: string;
  deviceID: string;
  step: DeliveryStep;
  /** The invitation's deadline for a send (a member invited again gets a new one); 0 for a receipt. */
  deadline: number;
  /** Server time. */
  at: number;
}

/** A call's log as stored: its facts in commit order, and its deliveries oldest first. */
export interface CallLog {
  facts: Fact[];
  /** One per (device, step, deadline): the first time it happened. */
  deliveries: DeliveryRecord[];
}

/** A delivery as a log entry stores it (the call is the entry's). */
export type StoredDelivery = [
  userID: string,
  deviceID: string,
  step: DeliveryStep,
  deadline: number,
  at: number,
];

export function storedDeliveries(records: readonly DeliveryRecord[]): StoredDelivery[] {
  return records.map((r) => [r.userID, r.deviceID, r.step, r.deadline, r.at]);
}

/**
 * The call's deliveries from its entries' stored form: a device's step seen twice (recorded by
 * two nodes, or written again after a failed commit) keeps its first time; oldest first.
 */
export function deliveriesOf(callID: string, stored: Iterable<StoredDelivery>): DeliveryRecord[] {
  const first = new Map<string, DeliveryRecord>();
  for (const [userID, deviceID, step, deadline, at] of stored) {
    const key = `${userID}\u0000${deviceID}\u0000${step}\u0000${deadline}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, { callID, userID, deviceID, step, deadline, at });
    else if (at < seen.at) seen.at = at;
  }
  return [...first.values()].sort(
    (a, b) =>
      a.at - b.at ||
      (a.step === b.step ? 0 : a.step === "sent" ? -1 : 1) ||
      order(a.userID, b.userID) ||
      order(a.deviceID, b.deviceID),
  );
}

function order(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
