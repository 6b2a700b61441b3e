// Builders shared by the engine tests: a cast of users with two devices each, short ways to start
// a call and drive it through real commands, and a model of which device receives what.
import {
  type Actor,
  type Audience,
  applyCommand,
  type Call,
  type CallCommand,
  createCall,
  type Decision,
  type Delivery,
  defaultEngineSettings,
  type EngineSettings,
  findMember,
  type InviteCommand,
  type Member,
  type ReplyOf,
  type TimerKind,
} from "@beckon/engine";
import {
  type CallEvent,
  type CallEventName,
  CallInvitationMode,
  type CallUserState,
  type ErrorCode,
} from "@beckon/protocol";
import { expect } from "vitest";

export const settings: EngineSettings = defaultEngineSettings;

/** One kind of command, so that its reply is typed. */
export type CommandOf<T extends CallCommand["type"]> = Extract<CallCommand, { type: T }>;

/** An arbitrary fixed "now"; the engine never reads a clock. */
export const T0 = 1_700_000_000_000;
export const SECOND = 1_000;

export const CALLER = "alice";
/** Known to the server but never invited. */
export const OUTSIDER = "mallory";
/** Eleven known users, enough to overflow the nine-invitee limit. */
export const INVITEES = [
  "bob",
  "carol",
  "dave",
  "erin",
  "frank",
  "grace",
  "heidi",
  "ivan",
  "judy",
  "kim",
  "leo",
] as const;
export const KNOWN_USERS: ReadonlySet<string> = new Set([CALLER, OUTSIDER, ...INVITEES]);

/** Every user has two devices, so the multi-device rules of SPEC §5 are always in play. */
export function devicesOf(userID: string): [string, string] {
  return [phone(userID), laptop(userID)];
}

export function phone(userID: string): string {
  return `${userID}-phone`;
}

export function laptop(userID: string): string {
  return `${userID}-laptop`;
}

export function by(userID: string, deviceID: string = phone(userID)): Actor {
  return { userID, deviceID };
}

/** A valid callInvite from the caller's phone to bob; tests override what they are about. */
export function inviteCommand(overrides: Partial<InviteCommand> = {}): InviteCommand {
  return {
    type: "invite",
    actor: by(CALLER),
    callID: "call-1",
    invitees: ["bob"],
    knownUsers: KNOWN_USERS,
    callerBusy: false,
    ...overrides,
  };
}

export function invite(overrides: Partial<InviteCommand> = {}, now: number = T0) {
  return createCall(inviteCommand(overrides), now, settings);
}

/** Creates a call that must succeed. */
export function startCall(overrides: Partial<InviteCommand> = {}, now: number = T0): Call {
  const decision = invite(overrides, now);
  if (!decision.ok) {
    throw new Error(`invite failed: ${decision.error.code} ${decision.error.message}`);
  }
  return decision.call;
}

/** An advanced-mode call (SPEC §5 "Advanced mode"), otherwise like `startCall`. */
export function startAdvancedCall(overrides: Partial<InviteCommand> = {}, now: number = T0): Call {
  return startCall({ mode: CallInvitationMode.Advanced, ...overrides }, now);
}

export const accept = (
  userID: string,
  deviceID: string = phone(userID),
  extendedData?: string,
): CallCommand => ({ type: "accept", actor: by(userID, deviceID), extendedData });

export const reject = (
  userID: string,
  deviceID: string = phone(userID),
  extendedData?: string,
): CallCommand => ({ type: "reject", actor: by(userID, deviceID), extendedData });

export const receipt = (userID: string, deviceID: string = phone(userID)): CallCommand => ({
  type: "receipt",
  actor: by(userID, deviceID),
});

export const cancel = (
  userID: string = CALLER,
  invitees: readonly string[] = [],
  deviceID: string = phone(userID),
  extendedData?: string,
): CommandOf<"cancel"> => ({ type: "cancel", actor: by(userID, deviceID), invitees, extendedData });

export const deviceLost = (userID: string, deviceID: string = phone(userID)): CallCommand => ({
  type: "deviceLost",
  actor: by(userID, deviceID),
});

export const deviceBack = (userID: string, deviceID: string = phone(userID)): CallCommand => ({
  type: "deviceBack",
  actor: by(userID, deviceID),
});

export const logout = (userID: string, deviceID: string = phone(userID)): CallCommand => ({
  type: "logout",
  actor: by(userID, deviceID),
});

/** Advanced mode: an Accepted member invites more users (SPEC §3 callingInvite). */
export const callingInvite = (
  userID: string,
  invitees: readonly string[],
  deviceID: string = phone(userID),
): CommandOf<"callingInvite"> => ({
  type: "callingInvite",
  actor: by(userID, deviceID),
  invitees,
  knownUsers: KNOWN_USERS,
});

export const join = (
  userID: string,
  deviceID: string = phone(userID),
  extendedData?: string,
): CommandOf<"join"> => ({ type: "join", actor: by(userID, deviceID), extendedData });

export const quit = (
  userID: string,
  deviceID: string = phone(userID),
  extendedData?: string,
): CommandOf<"quit"> => ({ type: "quit", actor: by(userID, deviceID), extendedData });

export const end = (
  userID: string,
  deviceID: string = phone(userID),
  extendedData?: string,
): CommandOf<"end"> => ({ type: "end", actor: by(userID, deviceID), extendedData });

export const fire = (timer: TimerKind, userID: string): CallCommand => ({
  type: "timer",
  timer,
  userID,
});

export function apply<C extends CallCommand>(
  call: Call,
  command: C,
  now: number = T0,
): Decision<ReplyOf<C>> {
  return applyCommand(call, command, now, settings);
}

/** Applies a command that must succeed and change the call. */
export function applyChanged<C extends CallCommand>(call: Call, command: C, now: number = T0) {
  const decision = apply(call, command, now);
  if (!decision.ok) {
    throw new Error(`${command.type} failed: ${decision.error.code} ${decision.error.message}`);
  }
  if (!decision.changed) throw new Error(`${command.type} changed nothing`);
  return decision;
}

/** Applies commands in order (each at its own time, T0 by default) and returns the final call. */
export function drive(call: Call, ...steps: (CallCommand | [CallCommand, number])[]): Call {
  let current = call;
  for (const step of steps) {
    const [command, now] = Array.isArray(step) ? step : [step, T0];
    current = applyChanged(current, command, now).call;
  }
  return current;
}

export function stateOf(call: Call, userID: string): CallUserState | undefined {
  return findMember(call, userID)?.state;
}

/** The member record of a user who must be in the call. */
export function memberOf(call: Call, userID: string): Member {
  const member = findMember(call, userID);
  if (!member) throw new Error(`${userID} is not a member of ${call.callID}`);
  return member;
}

/** Asserts the command fails with `code` and leaves the call exactly as it was. */
export function expectRefused(
  call: Call,
  command: CallCommand,
  code: ErrorCode,
  now: number = T0,
): void {
  const before = structuredClone(call);
  const decision = apply(call, command, now);
  expect(decision.ok ? "accepted" : decision.error.code).toBe(code);
  expect(call).toEqual(before);
}

/** Asserts the command is a no-op: success, changed=false, no events, the very same call back. */
export function expectNoOp(call: Call, command: CallCommand, now: number = T0): void {
  const before = structuredClone(call);
  const decision = apply(call, command, now);
  expect(decision).toMatchObject({ ok: true, changed: false, deliveries: [] });
  if (decision.ok) expect(decision.call).toEqual(before);
  expect(call).toEqual(before);
}

export function deliveriesOf(decision: { deliveries: Delivery[] }, name: CallEventName) {
  return decision.deliveries.filter((delivery) => delivery.event.name === name);
}

/** The devices an audience reaches, with every device of every user online. */
export function devicesReached(to: Audience): string[] {
  return devicesOf(to.userID).filter(
    (device) => (to.device === undefined || to.device === device) && to.exceptDevice !== device,
  );
}

/** What each device received, in order: the model of a perfectly connected fleet of devices. */
export class Inboxes {
  private readonly byDevice = new Map<string, CallEvent[]>();

  deliver(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      for (const device of devicesReached(delivery.to)) this.of(device).push(delivery.event);
    }
  }

  of(device: string): CallEvent[] {
    let inbox = this.byDevice.get(device);
    if (!inbox) {
      inbox = [];
      this.byDevice.set(device, inbox);
    }
    return inbox;
  }
}
