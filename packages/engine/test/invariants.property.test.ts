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
  OUTSIDER,
  settings,
  T0,
} from "./fixtures.js";

const kinds = [
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

type ActionKind = (typeof kinds)[number][0];

interface Action {
  kind: ActionKind;
  /** Index into [caller, ...invitees, outsider], taken modulo its length. */
  who: number;
  device: 0 | 1;
  timer: TimerKind;
  /** Milliseconds the clock moves before the command. */
  advance: number;
  /** For cancel: the listed users (indices like `who`); absent means the empty list. */
  listed: number[] | undefined;
  extendedData: string | undefined;
}

const actionArb: fc.Arbitrary<Action> = fc.record({
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
  extendedData: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
});

const scenarioArb = (mode: CallInvitationMode) =>
  fc.record({
    mode: fc.constant(mode),
    inviteeCount: fc.integer({ min: 1, max: 9 }),
    // Short enough that deadlines fall inside a run, long enough that other timers come first.
    timeout: fc.integer({ min: 1, max: 120 }),
    enableNotReceivedCheck: fc.boolean(),
    creatorDevice: fc.constantFrom(0 as const, 1 as const),
    actions: fc.array(actionArb, { minLength: 1, maxLength: 40, size: "max" }),
  });

type Scenario = ReturnType<typeof scenarioArb> extends fc.Arbitrary<infer S> ? S : never;

/** What a device saw: call events, plus the replies to its own successful accept/reject. */
type Seen = CallEvent | { name: "reply"; state: CallUserState; extendedData: string };

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

function toCommand(action: Action, call: Call, now: number, cast: readonly string[]) {
  const pick = (index: number) => cast[index % cast.length] as string;
  const user = pick(action.who);
  const actor = by(user, devicesOf(user)[action.device]);
  // Connection changes and cancels mostly come from the caller (from either device), which is
  // where they matter; sometimes from anybody, where they must not.
  const callerSide = action.who % 4 === 0 ? actor : by(CALLER, devicesOf(CALLER)[action.device]);
  const later = now + action.advance;
  switch (action.kind) {
    case "accept":
    case "reject":
      return {
        command: { type: action.kind, actor, extendedData: action.extendedData } as CallCommand,
        now: later,
      };
    case "receipt":
      return { command: { type: "receipt", actor } as CallCommand, now: later };
    case "cancel": {
      // A non-empty list on an advanced call is the partial cancel, which is not built yet.
      const invitees =
        call.mode === CallInvitationMode.Advanced ? [] : (action.listed ?? []).map(pick);
      const command: CallCommand = {
        type: "cancel",
        actor: callerSide,
        invitees,
        extendedData: action.extendedData,
      };
      return { command, now: later };
    }
    case "deviceLost":
    case "deviceBack":
    case "logout":
      return { command: { type: action.kind, actor: callerSide } as CallCommand, now: later };
    case "timer":
      return {
        command: { type: "timer", timer: action.timer, userID: user } as CallCommand,
        now: later,
      };
    case "dueTimer": {
      // Half the time the earliest timer, as a timer service would fire them; else any of them.
      const timers = timersOf(call, settings).sort((a, b) => a.at - b.at);
      const timer = timers[action.who % 2 === 0 ? 0 : action.who % Math.max(1, timers.length)];
      if (!timer) {
        return {
          command: { type: "timer", timer: action.timer, userID: user } as CallCommand,
          now: later,
        };
      }
      // On time, or late by a random amount: late fires must behave the same.
      const at = Math.max(now, timer.at) + (action.advance % 2 === 0 ? 0 : action.advance);
      return {
        command: { type: "timer", timer: timer.kind, userID: timer.userID } as CallCommand,
        now: at,
      };
    }
  }
}

/** SPEC §4/§5: the only events a member may get in the step that makes it terminal. */
function isFarewell(delivery: Delivery, member: Member, command: CallCommand): boolean {
  const { to, event } = delivery;
  const everyDevice = to.device === undefined && to.exceptDevice === undefined;
  switch (member.state) {
    case CallUserState.Cancelled:
      return event.name === "callInvitationCancelled" && everyDevice;
    case CallUserState.Timeout:
      return event.name === "callInvitationTimeout" && everyDevice;
    case CallUserState.Rejected:
      // Its other devices' one last state change, so they stop ringing.
      return (
        command.type === "reject" &&
        command.actor.userID === member.userID &&
        event.name === "callUserStateChanged" &&
        to.exceptDevice === command.actor.deviceID
      );
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

function checkDeliveries(before: Call, after: Call, command: CallCommand, deliveries: Delivery[]) {
  for (const delivery of deliveries) {
    const { to, event } = delivery;
    expect(event.data.callID).toBe(before.callID);
    const was = findMember(before, to.userID);
    const is = findMember(after, to.userID);
    if (!was || !is) throw new Error(`${event.name} to ${to.userID}, who is not a member`);
    // (b) nothing to a member that was out of the call before this step.
    expect(isTerminal(was.state), `${event.name} to ${to.userID}, terminal before`).toBe(false);
    if (isTerminal(is.state)) {
      expect(isFarewell(delivery, is, command), `${event.name} to ${to.userID}, now terminal`).toBe(
        true,
      );
    }
    // Multi-device (SPEC §5): all devices ring until a main device exists, then only it hears.
    if (was.mainDevice !== null) {
      const callerCancelled =
        to.userID === before.caller && event.name === "callInvitationCancelled";
      if (!callerCancelled) expect(to).toEqual({ userID: to.userID, device: was.mainDevice });
    } else if (is.mainDevice === null) {
      expect(to).toEqual({ userID: to.userID });
    } else {
      expect(event.name).toBe("callUserStateChanged");
      expect(
        sameAudience(to, { userID: to.userID, device: is.mainDevice }) ||
          sameAudience(to, { userID: to.userID, exceptDevice: is.mainDevice }),
      ).toBe(true);
    }
  }

  const changed = after.members.filter(
    (member) => findMember(before, member.userID)?.state !== member.state,
  );
  const stateChanges = deliveries.filter((d) => d.event.name === "callUserStateChanged");
  if (changed.length === 0) expect(stateChanges).toEqual([]);

  for (const member of after.members) {
    const was = findMember(before, member.userID) as Member;
    const toMember = stateChanges.filter((d) => d.to.userID === member.userID);
    // Every active member hears, once, of exactly the members whose state changed.
    if (changed.length > 0 && isActive(member.state)) {
      const main = toMember.filter((d) => d.to.exceptDevice === undefined);
      expect(main).toHaveLength(1);
      const event = main[0]?.event;
      if (event?.name === "callUserStateChanged") {
        expect(byUser(event.data.callUserList)).toEqual(byUser(changed.map(userInfo)));
      }
    }
    // A member that just picked its main device: one last word to each other device.
    if (was.mainDevice === null && member.mainDevice !== null) {
      const lastWords = toMember.filter((d) => d.to.exceptDevice === member.mainDevice);
      expect(lastWords).toHaveLength(1);
      const event = lastWords[0]?.event;
      if (event?.name === "callUserStateChanged") {
        expect(event.data.callUserList).toContainEqual(userInfo(member));
      }
    }
    const farewells = deliveries.filter(
      (d) =>
        d.to.userID === member.userID &&
        (d.event.name === "callInvitationCancelled" || d.event.name === "callInvitationTimeout"),
    );
    const justCancelled = member.state === CallUserState.Cancelled && isPending(was.state);
    const justTimedOut = member.state === CallUserState.Timeout && isPending(was.state);
    if (member.userID !== after.caller) {
      expect(farewells).toHaveLength(justCancelled || justTimedOut ? 1 : 0);
    }
  }
}

/** (g) and the end rules of SPEC §5, which hold for any call at rest. */
function checkCallAtRest(call: Call) {
  const pending = call.members.filter((m) => isPending(m.state));
  const timers = timersOf(call, settings);
  if (call.state === CallState.Ended) {
    expect(timers).toEqual([]);
    expect(pending).toEqual([]);
    expect(call.callerLostAt).toBe(0);
    expect(call.endTime).toBeGreaterThanOrEqual(call.createTime);
  } else {
    expect(call.state).toBe(CallState.Started);
    expect(call.endTime).toBe(0);
    const deadlines = timers.filter((t) => t.kind === "deadline");
    expect(deadlines).toEqual(
      pending.map((m) => ({ kind: "deadline", userID: m.userID, at: m.deadline })),
    );
    const checks = timers.filter((t) => t.kind === "notReceived").map((t) => t.userID);
    expect(checks).toEqual(
      call.enableNotReceivedCheck
        ? call.members.filter((m) => m.state === CallUserState.Inviting).map((m) => m.userID)
        : [],
    );
    expect(timers.filter((t) => t.kind === "callerLost")).toEqual(
      call.callerLostAt === 0
        ? []
        : [{ kind: "callerLost", userID: call.caller, at: call.callerLostAt }],
    );
    // General calls end by themselves once nobody is pending.
    if (call.mode === CallInvitationMode.General) expect(pending.length).toBeGreaterThan(0);
  }
  // A lost caller only matters while nobody has accepted.
  if (call.callerLostAt !== 0) {
    expect(
      call.members.some((m) => m.userID !== call.caller && m.state === CallUserState.Accepted),
    ).toBe(false);
  }
  expect(findMember(call, call.caller)?.state).toBe(CallUserState.Accepted);
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
  expect(after.members.map((m) => m.userID)).toEqual(before.members.map((m) => m.userID));
  for (const was of before.members) {
    const is = findMember(after, was.userID) as Member;
    // (a) one outcome per invitee: answered or terminal members never move again.
    if (!isPending(was.state)) expect(is.state, `${was.userID} changed again`).toBe(was.state);
    if (was.mainDevice !== null) expect(is.mainDevice).toBe(was.mainDevice);
  }
  if (after.state === CallState.Ended) expect(after.endTime).toBe(now);
  checkDeliveries(before, after, command, decision.deliveries);
  // Timers fire exactly once: the same fire again at the same time is a no-op.
  if (command.type === "timer") {
    const again = applyCommand(after, command, now, settings);
    expect(again.ok && again.changed).toBe(false);
  }
}

/** (e) A device's picture of the call, rebuilt only from what it received. */
function viewOf(seen: readonly Seen[], self: string, caller: string) {
  let view: Map<string, CallUserInfo> | undefined;
  const set = (info: CallUserInfo) => view?.set(info.userID, { ...info });
  for (const entry of seen) {
    switch (entry.name) {
      case "callInvitationCreated":
      case "callInvitationReceived":
        view = new Map();
        entry.data.callUserList.forEach(set);
        break;
      case "callUserStateChanged":
        expect(view, "a state change before the invitation").toBeDefined();
        entry.data.callUserList.forEach(set);
        break;
      case "callInvitationCancelled": {
        // To the caller's devices it reports the invitees' cancellation, not its own.
        const own = view?.get(self);
        if (self !== caller && own) set({ ...own, state: CallUserState.Cancelled });
        break;
      }
      case "callInvitationTimeout": {
        const own = view?.get(self);
        if (own) set({ ...own, state: CallUserState.Timeout });
        break;
      }
      case "reply":
        set({ userID: self, state: entry.state, extendedData: entry.extendedData });
        break;
      case "callInvitationEnded":
        throw new Error("callInvitationEnded is never sent by the commands built so far");
    }
  }
  return view;
}

function checkViews(call: Call, devices: Devices) {
  const stored = byUser(call.members.map(userInfo));
  for (const member of call.members) {
    for (const device of devicesOf(member.userID)) {
      const view = viewOf(devices.of(device), member.userID, call.caller);
      if (!view) throw new Error(`${device} never heard of the call`);
      // Every device ends up knowing its own user's state (the last word, the cancel, …).
      expect(view.get(member.userID), device).toEqual(userInfo(member));
      // The devices acting for an active member know everybody's state.
      const acting = member.mainDevice === null || member.mainDevice === device;
      if (isActive(member.state) && acting)
        expect(byUser([...view.values()]), device).toEqual(stored);
    }
  }
}

function run(scenario: Scenario) {
  const invitees = INVITEES.slice(0, scenario.inviteeCount);
  const cast = [CALLER, ...invitees, OUTSIDER];
  const created = createCall(
    inviteCommand({
      actor: by(CALLER, devicesOf(CALLER)[scenario.creatorDevice]),
      invitees,
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
    const next = toCommand(action, call, now, cast);
    expect(next.now).toBeGreaterThanOrEqual(now);
    now = next.now;
    const before = structuredClone(call);
    const decision = applyCommand(call, next.command, now, settings);
    // The engine is pure: the call it was given is never touched.
    expect(call).toEqual(before);
    checkStep(before, next.command, now, decision);
    if (!decision.ok || !decision.changed) continue;
    const { command } = next;
    if (command.type === "accept" || command.type === "reject") {
      // The device knows what it sent; the reply itself only confirms it.
      devices.of(command.actor.deviceID).push({
        name: "reply",
        state: command.type === "accept" ? CallUserState.Accepted : CallUserState.Rejected,
        extendedData: command.extendedData ?? "",
      });
    }
    devices.deliver(decision.deliveries);
    call = decision.call;
    checkCallAtRest(call);
  }
  checkViews(call, devices);
}

describe.each([
  ["general calls", CallInvitationMode.General],
  ["advanced-created calls", CallInvitationMode.Advanced],
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
