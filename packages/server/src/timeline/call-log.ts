// What a call's timeline is made of, as the store commits it: each commit's facts and, in the
// same entry, the device deliveries (which device was sent the invitation, which acknowledged
// it) the node saw since its previous commit of the call. Nothing is written for a timeline
// alone; the facts the hooks are handed are the same rows.
import type { Fact } from "@beckon/engine";
import type { CallEvent } from "@beckon/protocol";

/**
 * `sent`: the invitation was put on the device's event stream (written at once to an attached
 * socket, replayed on resume to one that is away). `received`: the device's receipt came in.
 * `told …`: another event of the call was put on the device's stream (another device answered,
 * the call was cancelled, timed out or ended): `told <event>`, and for a state change the users
 * it names with their new state, `told callUserStateChanged bob:1,carol:6`. A space and a comma
 * never stand in a user ID, so the step reads back unambiguously.
 */
export type DeliveryStep = "sent" | "received" | `told ${string}`;

/** At most this many users are named in a `told` step (a big group call's change lists more). */
const TOLD_USERS = 8;

/** The `told` step for an event put on a device's stream. */
export function toldStep(event: CallEvent): DeliveryStep {
  if (event.name !== "callUserStateChanged") return `told ${event.name}`;
  const users = event.data.callUserList
    .slice(0, TOLD_USERS)
    .map((user) => `${user.userID}:${user.state}`);
  return `told ${event.name} ${users.join(",")}`;
}

export function isTold(step: DeliveryStep): step is `told ${string}` {
  return step.startsWith("told ");
}

export interface DeliveryRecord {
  callID: string;
  userID: string;
  deviceID: string;
  step: DeliveryStep;
  /**
   * The invitation's deadline for a send (a member invited again gets a new one); 0 for a
   * receipt; for a `told` step its time, so the same event told twice counts twice.
   */
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
      stepOrder(a.step) - stepOrder(b.step) ||
      order(a.userID, b.userID) ||
      order(a.deviceID, b.deviceID),
  );
}

/** At one instant: sent before received before told. */
function stepOrder(step: DeliveryStep): number {
  return step === "sent" ? 0 : step === "received" ? 1 : 2;
}

function order(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
