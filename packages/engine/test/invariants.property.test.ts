// Pins the call invariants under random interleavings of commands and timer fires (fast-check).
import {
  applyCommand,
  type Call,
  type CallCommand,
  type CommandReply,
  createCall,
  type Decision,
  type Delivery,
  findMember,
  type Member,
  type TimerKind,
  timersOf,
  userInfo,
} from "@beckon/engine";
import {
  type CallEvent,
  CallInvitationMode,
  CallState,
  type CallUserInfo,
  CallUserState,
  isActive,
  isPending,
  isTerminal,
  MAX_ACTIVE_MEMBERS,
} from "@beckon/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  by,
  CALLER,
  devicesOf,
  devicesReached,
  INVITEES,
  inviteCommand,
  KNOWN_USERS,
  OUTSIDER,
  settings,
  T0,
} from "./fixtures.js";

const generalKinds = [
  ["accept", 3],
  ["reject", 2],
  ["receipt", 3],
  ["cancel", 1],
  ["deviceLost", 2],
  ["deviceBack", 1],
  ["logout", 1],
  ["timer", 2],
  ["dueTimer", 3],
] as const;

/** Advanced calls also see the advanced-only operations (SPEC §3). */
const advancedKinds = [
  ...generalKinds,
  ["callingInvite", 3],
  ["join", 3],
  ["quit", 2],
  ["end", 1],
] as const;

type ActionKind = (typeof advancedKinds)[number][0];

interface Action {
  kind: ActionKind;
  /** Index into the cast (the users who act), taken modulo its length. */
  who: number;
  device: 0 | 1;
  timer: TimerKind;
  /** Milliseconds the clock moves before the command. */
  advance: number;
  /** For cancel: the listed users (indices into the pool); absent means the empty list. */
  listed: number[] | undefined;
  /** For callingInvite: indices into the pool, which also holds unknown and invalid users. */
  invitees: number[];
  extendedData: string | undefined;
}

const actionArb = (kinds: readonly (readonly [ActionKind, number])[]): fc.Arbitrary<Action> =>
  fc.record({
    kind: fc.oneof(...kinds.map(([kind, weight]) => ({ arbitrary: fc.constant(kind), weight }))),
    who: fc.nat({ max: 20 }),
    device: fc.constantFrom(0 as const, 1 as const),
    timer: fc.constantFrom<TimerKind>("deadline", "notReceived", "callerLost"),
    // Mostly small steps, so calls live long enough to see many commands; sometimes a big jump.
    advance: fc.oneof(
      { arbitrary: fc.constant(0), weight: 1 },
      { arbitrary: fc.integer({ min: 1, max: 3_000 }), weight: 3 },
      { arbitrary: fc.integer({ min: 1, max: 40_000 }), weight: 1 },
    ),
    listed: fc.option(fc.uniqueArray(fc.nat({ max: 20 }), { maxLength: 4 }), { nil: undefined }),
    // Duplicates and the empty list included: both are the engine's to handle.
    invitees: fc.array(fc.nat({ max: 20 }), { maxLength: 4 }),
    extendedData: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
  });

const scenarioArb = (mode: CallInvitationMode) =>
  fc.record({
    mode: fc.constant(mode),
    // Advanced calls start full more often, so that the ten-member cap gets hit.
    inviteeCount:
      mode === CallInvitationMode.General
        ? fc.integer({ min: 1, max: 9 })
        : fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constant(9)),
    // Short enough that deadlines fall inside a run, long enough that other timers come first.
    timeout: fc.integer({ min: 1, max: 120 }),
    enableNotReceivedCheck: fc.boolean(),
    creatorDevice: fc.constantFrom(0 as const, 1 as const),
    actions: fc.array(
      actionArb(mode === CallInvitationMode.General ? generalKinds : advancedKinds),
      { minLength: 1, maxLength: 40, size: "max" },
    ),
  });

type Scenario = ReturnType<typeof scenarioArb> extends fc.Arbitrary<infer S> ? S : never;

/**
 * What a device saw: call events, plus the replies to its own successful commands that tell it
 * something: its own new state (accept, reject, quit), or the whole call (callJoin).
 */
type Seen =
  | CallEvent
  | { name: "reply"; state: CallUserState; extendedData: string }
  | { name: "joinReply"; callUserList: CallUserInfo[] };

class Devices {
  private readonly seen = new Map<string, Seen[]>();

  deliver(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      for (const device of devicesReached(delivery.to)) this.of(device).push(delivery.event);
    }
  }

  of(device: string): Seen[] {
    let log = this.seen.get(device);
    if (!log) {
      log = [];
      this.seen.set(device, log);
    }
    return log;
  }
}

/** The users of a run: `cast` act, `pool` may be invited (unknown and invalid IDs too). */
interface Users {
  cast: readonly string[];
  pool: readonly string[];
}

function usersFor(scenario: Scenario): Users {
  if (scenario.mode === CallInvitationMode.General) {
    const cast = [CALLER, ...INVITEES.slice(0, scenario.inviteeCount), OUTSIDER];
    return { cast, pool: cast };
  }
  // Advanced calls can grow: everybody known may act, and more than ten can take part.
  const cast = [CALLER, ...INVITEES, OUTSIDER];
  expect(cast.every((userID) => KNOWN_USERS.has(userID))).toBe(true);
  return { cast, pool: [...cast, "ghost", "bad id"] };
}

function toCommand(action: Action, call: Call, now: number, users: Users) {
  const pick = (index: number) => users.cast[index % users.cast.length] as string;
  const fromPool = (index: number) => users.pool[index % users.pool.length] as string;
  const user = pick(action.who);
  const device = (userID: string) => devicesOf(userID)[action.device];
  const actor = by(user, device(user));
  // Connection changes and cancels mostly come from the caller (from either device), which is
  // where they matter; sometimes from anybody, where they must not.
  const callerSide = action.who % 4 === 0 ? actor : by(CALLER, device(CALLER));
  // The advanced operations mostly come from someone allowed to use them, sometimes from anybody.
  const accepted = call.members.filter((m) => m.state === CallUserState.Accepted);
  const member = accepted[action.who % Math.max(1, accepted.length)];
  const acceptedSide =
    action.who % 3 === 0 || !member ? actor : by(member.userID, device(member.userID));
  const later = now + action.advance;
  const at = (command: CallCommand) => ({ command, now: later });
  switch (action.kind) {
    case "accept":
    case "reject":
    case "join":
    case "quit":
    case "end": {
      // Joins come now and then from the caller, whose device switch matters to caller lost.
      const joiner = action.who % 5 === 0 ? by(CALLER, device(CALLER)) : actor;
      const who =
        action.kind === "quit" || action.kind === "end"
          ? acceptedSide
          : action.kind === "join"
            ? joiner
            : actor;
      return at({
        type: action.kind,
        actor: who,
        extendedData: action.extendedData,
      } as CallCommand);
    }
    case "receipt":
      return at({ type: "receipt", actor });
    case "callingInvite":
      return at({
        type: "callingInvite",
        actor: acceptedSide,
        invitees: action.invitees.map(fromPool),
        knownUsers: KNOWN_USERS,
      });
    case "cancel": {
      const invitees = (action.listed ?? []).map(fromPool);
      // A listed cancel of an advanced call is a partial one, for whoever invited the listed
      // users: mostly the inviter of some pending member, sometimes anybody.
      const pending = call.members.filter((m) => isPending(m.state));
      const invited = pending[action.who % Math.max(1, pending.length)];
      const inviterSide =
        call.mode === CallInvitationMode.Advanced && invitees.length > 0 && invited
          ? by(invited.inviter, device(invited.inviter))
          : callerSide;
      const command: CallCommand = {
        type: "cancel",
        actor: action.who % 4 === 0 ? actor : inviterSide,
        invitees,
        extendedData: action.extendedData,
      };
      return at(command);
    }
    case "deviceLost":
    case "deviceBack":
    case "logout":
      return at({ type: action.kind, actor: callerSide } as CallCommand);
    case "timer":
      return at({ type: "timer", timer: action.timer, userID: user });
    case "dueTimer": {
      // Half the time the earliest timer, as a timer service would fire them; else any of them.
      const timers = timersOf(call, settings).sort((a, b) => a.at - b.at);
      const timer = timers[action.who % 2 === 0 ? 0 : action.who % Math.max(1, timers.length)];
      if (!timer) return at({ type: "timer", timer: action.timer, userID: user });
      // On time, or late by a random amount: late fires must behave the same.
      const due = Math.max(now, timer.at) + (action.advance % 2 === 0 ? 0 : action.advance);
      const command: CallCommand = { type: "timer", timer: timer.kind, userID: timer.userID };
      return { command, now: due };
    }
  }
}

/** Who the command acted for, when a user acted. */
function actorOf(command: CallCommand): string | null {
  return "actor" in command ? command.actor.userID : null;
}

/** A member (re-)invited by this very step's callingInvite: new, or terminal before. */
function newlyInvited(was: Member | undefined, is: Member, command: CallCommand): boolean {
  return (
    command.type === "callingInvite" &&
    is.state === CallUserState.Inviting &&
    (was === undefined || isTerminal(was.state))
  );
}

/** A member that came (back) in with this very step's callJoin: new, pending or terminal before. */
function newlyJoined(was: Member | undefined, is: Member, command: CallCommand): boolean {
  return (
    command.type === "join" &&
    command.actor.userID === is.userID &&
    is.state === CallUserState.Accepted &&
    (was === undefined || was.state !== CallUserState.Accepted)
  );
}

/**
 * Whether this step's answer or join made a device the member's main device (SPEC §5): its other
 * devices then get one last word. A device switch moves the main device but tells nobody.
 */
function pickedMainDevice(was: Member | undefined, is: Member): boolean {
  return (
    is.mainDevice !== null &&
    was?.state !== is.state &&
    (was === undefined || was.mainDevice === null || isTerminal(was.state))
  );
}

/** SPEC §4/§5: the only events a member may get in the step that makes it terminal. */
function isFarewell(delivery: Delivery, member: Member, command: CallCommand) {
  const { to, event } = delivery;
  const everyDevice = to.device === undefined && to.exceptDevice === undefined;
  if (event.name === "callUserStateChanged") {
    // Its own new state (SPEC §4), to the devices acting for it: every device while it had no
    // main device; else the main device, plus a rejecter's other devices (their last word).
    const ownState = event.data.callUserList.some(
      (user) => user.userID === member.userID && user.state === member.state,
    );
    if (!ownState) return false;
    if (member.mainDevice === null) return everyDevice;
    const lastWord =
      command.type === "reject" &&
      actorOf(command) === member.userID &&
      to.exceptDevice === command.actor.deviceID;
    return to.device === member.mainDevice || lastWord;
  }
  switch (member.state) {
    case CallUserState.Cancelled:
    case CallUserState.BeCancelled:
      return event.name === "callInvitationCancelled" && everyDevice;
    case CallUserState.Timeout:
      return event.name === "callInvitationTimeout" && everyDevice;
    default:
      return false;
  }
}

function sameAudience(a: Delivery["to"], b: Delivery["to"]): boolean {
  return a.userID === b.userID && a.device === b.device && a.exceptDevice === b.exceptDevice;
}

function byUser(list: readonly CallUserInfo[]): CallUserInfo[] {
  return [...list].sort((a, b) => a.userID.localeCompare(b.userID));
}

const isStateChange = (d: Delivery) => d.event.name === "callUserStateChanged";

function checkDeliveries(
  before: Call,
  after: Call,
  command: CallCommand,
  now: number,
  deliveries: Delivery[],
) {
  for (const delivery of deliveries) {
    const { to, event } = delivery;
    expect(event.data.callID).toBe(before.callID);
    const was = findMember(before, to.userID);
    const is = findMember(after, to.userID);
    if (!is) throw new Error(`${event.name} to ${to.userID}, who is not a member`);
    const cameIn = newlyInvited(was, is, command) || newlyJoined(was, is, command);
    if (!was) expect(cameIn, `${event.name} to ${to.userID}, who just appeared`).toBe(true);
    // (b) nothing to a member that was out of the call before this step, unless this step
    // brought it back in (the invitation, or the join's state change and last word).
    if (was && isTerminal(was.state)) {
      expect(cameIn, `${event.name} to ${to.userID}, terminal before`).toBe(true);
    }
    if (was && isTerminal(is.state)) {
      expect(isFarewell(delivery, is, command), `${event.name} to ${to.userID}, now terminal`).toBe(
        true,
      );
    }
    // Multi-device (SPEC §5): all devices ring until a main device exists, then only it hears.
    const callerCancelled = to.userID === before.caller && event.name === "callInvitationCancelled";
    if (is.mainDevice === null) {
      expect(to).toEqual({ userID: to.userID });
    } else if (pickedMainDevice(was, is)) {
      // The step picked the main device: the state change to it, and the last word to the rest.
      expect(event.name).toBe("callUserStateChanged");
      expect(
        sameAudience(to, { userID: to.userID, device: is.mainDevice }) ||
          sameAudience(to, { userID: to.userID, exceptDevice: is.mainDevice }),
      ).toBe(true);
    } else {
      expect(was?.mainDevice).toBe(is.mainDevice);
      if (!callerCancelled) expect(to).toEqual({ userID: to.userID, device: is.mainDevice });
    }
  }

  const changed = after.members.filter(
    (member) => findMember(before, member.userID)?.state !== member.state,
  );
  const stateChanges = deliveries.filter(isStateChange);
  if (changed.length === 0) expect(stateChanges).toEqual([]);
  // A device switch changes no state and tells nobody at all (SPEC §3 callJoin).
  if (
    command.type === "join" &&
    findMember(before, command.actor.userID)?.state === CallUserState.Accepted
  ) {
    expect(deliveries).toEqual([]);
  }

  const ended = deliveries.filter((d) => d.event.name === "callInvitationEnded");
  if (command.type === "end") {
    // Every member pending or Accepted when the call ended, on its main device, once.
    expect(after.state).toBe(CallState.Ended);
    expect(changed).toEqual([]);
    expect(ended.map((d) => d.to)).toEqual(
      before.members
        .filter((m) => isActive(m.state))
        .map((m) =>
          m.mainDevice === null ? { userID: m.userID } : { userID: m.userID, device: m.mainDevice },
        ),
    );
    for (const { event } of ended) {
      expect(event.data).toMatchObject({ operatedUserID: command.actor.userID, endTime: now });
    }
  } else {
    expect(ended).toEqual([]);
  }

  for (const member of after.members) {
    const was = findMember(before, member.userID);
    const toMember = deliveries.filter((d) => d.to.userID === member.userID);
    const invited = newlyInvited(was, member, command);
    // The (re-)invited get the invitation, with the whole call, and no state change.
    const invitations = toMember.filter((d) => d.event.name === "callInvitationReceived");
    expect(invitations).toHaveLength(invited ? 1 : 0);
    if (invited) {
      expect(member).toMatchObject({
        inviter: actorOf(command),
        inviteTime: now,
        deadline: now + after.timeout * 1000,
        mainDevice: null,
      });
      expect(invitations[0]?.event.data).toMatchObject({
        inviter: actorOf(command),
        deadline: member.deadline,
        callUserList: after.members.map(userInfo),
      });
      expect(toMember.filter(isStateChange)).toEqual([]);
    }
    const mainChanges = toMember.filter((d) => isStateChange(d) && d.to.exceptDevice === undefined);
    // Every other active member hears, once, of exactly the members whose state changed.
    if (changed.length > 0 && isActive(member.state) && !invited) {
      expect(mainChanges).toHaveLength(1);
      const event = mainChanges[0]?.event;
      if (event?.name === "callUserStateChanged") {
        expect(byUser(event.data.callUserList)).toEqual(byUser(changed.map(userInfo)));
      }
    }
    // The quitter hears of its own Quit on its main device, and that is all.
    if (was?.state === CallUserState.Accepted && member.state === CallUserState.Quit) {
      expect(toMember).toEqual([
        expect.objectContaining({ to: { userID: member.userID, device: was.mainDevice } }),
      ]);
    }
    // A member that just picked its main device: one last word to each other device.
    const picked = pickedMainDevice(was, member);
    const lastWords = toMember.filter((d) => isStateChange(d) && d.to.exceptDevice !== undefined);
    expect(lastWords).toHaveLength(picked ? 1 : 0);
    if (picked) {
      expect(lastWords[0]?.to.exceptDevice).toBe(member.mainDevice);
      const event = lastWords[0]?.event;
      if (event?.name === "callUserStateChanged") {
        expect(event.data.callUserList).toContainEqual(userInfo(member));
      }
    }
    const farewells = toMember.filter(
      (d) => d.event.name === "callInvitationCancelled" || d.event.name === "callInvitationTimeout",
    );
    const wasPending = was !== undefined && isPending(was.state);
    const justCancelled =
      wasPending &&
      (member.state === CallUserState.Cancelled || member.state === CallUserState.BeCancelled);
    const justTimedOut = wasPending && member.state === CallUserState.Timeout;
    if (member.userID !== after.caller || member.state !== CallUserState.Accepted) {
      expect(farewells).toHaveLength(justCancelled || justTimedOut ? 1 : 0);
    }
  }
}

/** (g), (h) and the end rules of SPEC §5, which hold for any call at rest. */
function checkCallAtRest(call: Call) {
  const pending = call.members.filter((m) => isPending(m.state));
  const active = call.members.filter((m) => isActive(m.state));
  const timers = timersOf(call, settings);
  // (h) never more than ten active members.
  expect(active.length).toBeLessThanOrEqual(MAX_ACTIVE_MEMBERS);
  expect(new Set(call.members.map((m) => m.userID)).size).toBe(call.members.length);
  if (call.state === CallState.Ended) {
    expect(timers).toEqual([]);
    expect(call.callerLostAt).toBe(0);
    expect(call.endTime).toBeGreaterThanOrEqual(call.createTime);
    // An advanced call ended by callEnd leaves its pending invitees as they were (SPEC §3).
    if (call.mode === CallInvitationMode.General) expect(pending).toEqual([]);
  } else {
    expect(call.state).toBe(CallState.Started);
    expect(call.endTime).toBe(0);
    const deadlines = timers.filter((t) => t.kind === "deadline");
    expect(deadlines).toEqual(
      pending.map((m) => ({ kind: "deadline", userID: m.userID, at: m.deadline })),
    );
    const checks = timers.filter((t) => t.kind === "notReceived");
    expect(checks).toEqual(
      call.enableNotReceivedCheck
        ? call.members
            .filter((m) => m.state === CallUserState.Inviting)
            .map((m) => ({
              kind: "notReceived",
              userID: m.userID,
              at: m.inviteTime + settings.notReceivedCheckMs,
            }))
        : [],
    );
    expect(timers.filter((t) => t.kind === "callerLost")).toEqual(
      call.callerLostAt === 0
        ? []
        : [{ kind: "callerLost", userID: call.caller, at: call.callerLostAt }],
    );
    // General calls end by themselves once nobody is pending, advanced ones once nobody is active.
    if (call.mode === CallInvitationMode.General) expect(pending.length).toBeGreaterThan(0);
    else expect(active.length).toBeGreaterThan(0);
  }
  for (const member of call.members) {
    if (isPending(member.state)) expect(member.mainDevice).toBeNull();
    if (member.state === CallUserState.Accepted) expect(member.mainDevice).not.toBeNull();
  }
  // A lost caller only matters while nobody has accepted.
  if (call.callerLostAt !== 0) {
    expect(
      call.members.some((m) => m.userID !== call.caller && m.state === CallUserState.Accepted),
    ).toBe(false);
  }
  if (call.mode === CallInvitationMode.General) {
    expect(findMember(call, call.caller)?.state).toBe(CallUserState.Accepted);
  }
}

/** (a) How a member's state may move in one step. */
function checkTransition(was: Member, is: Member, command: CallCommand, mode: CallInvitationMode) {
  const { Inviting, NotYetReceived, Received, Accepted, Quit } = CallUserState;
  const label = `${was.userID}: ${CallUserState[was.state]} -> ${CallUserState[is.state]} by ${command.type}`;
  if (is.state === was.state) {
    const switched = command.type === "join" && command.actor.userID === was.userID;
    if (was.mainDevice !== null && !switched) expect(is.mainDevice, label).toBe(was.mainDevice);
    if (switched) expect(is.mainDevice, label).toBe(command.actor.deviceID);
    return;
  }
  if (isPending(was.state)) {
    // Receipts only move forward; answers, cancels and timeouts end the pending time.
    const forward =
      (was.state === Inviting && (is.state === NotYetReceived || is.state === Received)) ||
      (was.state === NotYetReceived && is.state === Received);
    expect(forward || (!isPending(is.state) && is.state !== Quit), label).toBe(true);
  } else if (was.state === Accepted) {
    // Accepted only moves to Quit, and only in advanced calls.
    expect(is.state, label).toBe(Quit);
    expect(mode, label).toBe(CallInvitationMode.Advanced);
  } else {
    // Terminal stays terminal, except for a re-invite or a join in an advanced call.
    expect(mode, label).toBe(CallInvitationMode.Advanced);
    expect(newlyInvited(was, is, command) || newlyJoined(was, is, command), label).toBe(true);
  }
  if (newlyJoined(was, is, command) && command.type === "join") {
    expect(is.mainDevice, label).toBe(command.actor.deviceID);
  }
}

function checkStep(
  before: Call,
  command: CallCommand,
  now: number,
  decision: Decision<CommandReply>,
) {
  // (c) an ended call never changes again.
  if (before.state === CallState.Ended) expect(decision.ok && decision.changed).toBe(false);
  if (!decision.ok || !decision.changed) {
    // (d) a refusal or no-op leaves everything as it was and tells nobody.
    if (decision.ok) {
      expect(decision.call).toEqual(before);
      expect(decision.deliveries).toEqual([]);
    }
    return;
  }
  const after = decision.call;
  // (f) one change, one version.
  expect(after.version).toBe(before.version + 1);
  // Members are only ever added, at the end, by callingInvite or callJoin.
  expect(after.members.slice(0, before.members.length).map((m) => m.userID)).toEqual(
    before.members.map((m) => m.userID),
  );
  for (const added of after.members.slice(before.members.length)) {
    expect(newlyInvited(undefined, added, command) || newlyJoined(undefined, added, command)).toBe(
      true,
    );
    if (command.type === "join") {
      expect(added).toMatchObject({ inviter: "", acceptTime: now, deadline: 0 });
    }
  }
  for (const was of before.members) {
    checkTransition(was, findMember(after, was.userID) as Member, command, before.mode);
  }
  // Caller lost watches the device that was the caller's main one when it dropped (SPEC §5).
  if (after.callerLostAt !== 0) {
    const mainBefore = findMember(before, before.caller)?.mainDevice;
    expect(findMember(after, after.caller)?.mainDevice).toBe(mainBefore);
    if (before.callerLostAt === 0) {
      expect(command).toMatchObject({
        type: "deviceLost",
        actor: { userID: before.caller, deviceID: mainBefore },
      });
    }
  }
  if (after.state === CallState.Ended) {
    expect(after.endTime).toBe(now);
    // An advanced call ends only by callEnd, by cancelling every invitation, or once nobody
    // is active (SPEC §5).
    if (after.mode === CallInvitationMode.Advanced && command.type !== "end") {
      expect(after.members.filter((m) => isPending(m.state))).toEqual([]);
      const cancelAll =
        command.type === "cancel" ||
        command.type === "logout" ||
        (command.type === "timer" && command.timer === "callerLost");
      if (!cancelAll) expect(after.members.filter((m) => isActive(m.state))).toEqual([]);
    }
  }
  checkDeliveries(before, after, command, now, decision.deliveries);
  // Timers fire exactly once: the same fire again at the same time is a no-op.
  if (command.type === "timer") {
    const again = applyCommand(after, command, now, settings);
    expect(again.ok && again.changed).toBe(false);
  }
}

/** (e) A device's picture of the call, rebuilt only from what it received. */
function viewOf(seen: readonly Seen[], self: string) {
  let view: Map<string, CallUserInfo> | undefined;
  const set = (info: CallUserInfo) => view?.set(info.userID, { ...info });
  const setOwn = (state: CallUserState) => {
    const own = view?.get(self);
    if (own) set({ ...own, state });
  };
  for (const entry of seen) {
    switch (entry.name) {
      case "callInvitationCreated":
      case "callInvitationReceived":
        view = new Map();
        entry.data.callUserList.forEach(set);
        break;
      case "joinReply":
        // callJoin answers with the whole call: the joining device starts over from it.
        view = new Map();
        entry.callUserList.forEach(set);
        break;
      case "callUserStateChanged":
        if (!view) {
          // Only a joiner's other devices hear of the call first through its last word.
          expect(entry.data.callUserList.map((u) => u.userID)).toContain(self);
          view = new Map();
        }
        entry.data.callUserList.forEach(set);
        break;
      case "callInvitationCancelled":
        // To the caller's devices it reports the invitees' cancellation, not its own. Whether
        // the invitee is Cancelled or BeCancelled, its own state change right after tells.
        if (view?.get(self) && isPending((view.get(self) as CallUserInfo).state)) {
          setOwn(CallUserState.Cancelled);
        }
        break;
      case "callInvitationTimeout":
        setOwn(CallUserState.Timeout);
        break;
      case "reply":
        set({ userID: self, state: entry.state, extendedData: entry.extendedData });
        break;
      case "callInvitationEnded":
        // Member states stay as they were (SPEC §3 callEnd).
        break;
    }
  }
  return view;
}

function checkViews(call: Call, devices: Devices) {
  const stored = byUser(call.members.map(userInfo));
  for (const member of call.members) {
    for (const device of devicesOf(member.userID)) {
      const view = viewOf(devices.of(device), member.userID);
      const acting = member.mainDevice === null || member.mainDevice === device;
      if (call.mode === CallInvitationMode.General || isActive(member.state)) {
        if (!view) throw new Error(`${device} never heard of the call`);
        // Every device knows its own user's state (the last word, the cancel, the join, …).
        // Advanced members that left are out of the stream: only their acting devices know.
        expect(view.get(member.userID), device).toEqual(userInfo(member));
      } else if (acting) {
        expect(view?.get(member.userID), device).toEqual(userInfo(member));
      }
      // The devices acting for an active member know everybody's state.
      if (isActive(member.state) && acting) {
        expect(byUser([...(view as Map<string, CallUserInfo>).values()]), device).toEqual(stored);
      }
    }
  }
}

/** The replies that tell a device something its events will not. */
function replySeen(command: CallCommand, reply: CommandReply): Seen | null {
  switch (command.type) {
    case "accept":
    case "reject":
    case "quit": {
      // The device knows what it sent; the reply itself only confirms it.
      const states = {
        accept: CallUserState.Accepted,
        reject: CallUserState.Rejected,
        quit: CallUserState.Quit,
      } as const;
      return {
        name: "reply",
        state: states[command.type],
        extendedData: command.extendedData ?? "",
      };
    }
    case "join":
      return "callUserList" in reply
        ? { name: "joinReply", callUserList: reply.callUserList }
        : null;
    default:
      return null;
  }
}

function run(scenario: Scenario) {
  const users = usersFor(scenario);
  const created = createCall(
    inviteCommand({
      actor: by(CALLER, devicesOf(CALLER)[scenario.creatorDevice]),
      invitees: INVITEES.slice(0, scenario.inviteeCount),
      mode: scenario.mode,
      timeout: scenario.timeout,
      enableNotReceivedCheck: scenario.enableNotReceivedCheck,
    }),
    T0,
    settings,
  );
  if (!created.ok) throw new Error(`invite failed: ${created.error.message}`);
  const devices = new Devices();
  devices.deliver(created.deliveries);
  checkCallAtRest(created.call);

  let call = created.call;
  let now = T0;
  for (const action of scenario.actions) {
    const next = toCommand(action, call, now, users);
    expect(next.now).toBeGreaterThanOrEqual(now);
    now = next.now;
    const before = structuredClone(call);
    const decision = applyCommand(call, next.command, now, settings);
    // The engine is pure: the call it was given is never touched.
    expect(call).toEqual(before);
    checkStep(before, next.command, now, decision);
    if (!decision.ok || !decision.changed) continue;
    const { command } = next;
    const reply = replySeen(command, decision.reply);
    if (reply && "actor" in command) devices.of(command.actor.deviceID).push(reply);
    devices.deliver(decision.deliveries);
    call = decision.call;
    checkCallAtRest(call);
  }
  checkViews(call, devices);
}

describe.each([
  ["general calls", CallInvitationMode.General],
  ["advanced calls", CallInvitationMode.Advanced],
])("random interleavings on %s", (_, mode) => {
  it("keep every invariant after every step", () => {
    fc.assert(
      fc.property(scenarioArb(mode), (scenario) => {
        run(scenario);
      }),
      { numRuns: 300 },
    );
  });
});
