// Applies commands to calls: load -> engine -> one commit (call, timers, facts) -> streams. The
// only place where engine decisions become durable and visible.
import { createHash } from "node:crypto";
import type { Actor, Call } from "@beckon/engine";
import {
  actorOf,
  applyCommand,
  type CallCommand,
  callInfoFor,
  checkCallListQuery,
  createCall,
  type Decision,
  type Delivery,
  type EngineSettings,
  findMember,
  type InviteCommand,
  isBusy,
  type ReplyOf,
  timersOf,
} from "@beckon/engine";
import {
  BeckonError,
  type CallEvent,
  type CallInvitationListQueriedResult,
  type CallInvitationSentResult,
  type CallTimelineResult,
  ErrorCode,
  isValidUserID,
} from "@beckon/protocol";
import type { Logger } from "pino";
import type { OutboxRelay } from "./hooks/outbox-relay.js";
import { timeOrderedID } from "./ids.js";
import { KeyedQueue } from "./keyed-queue.js";
import type { BeckonMetrics } from "./metrics.js";
import type { DeviceState, Presence } from "./presence/presence.js";
import {
  type CallCommit,
  type CallStore,
  type CallUpdate,
  type CommitResult,
  type StoredTimer,
  timerChange,
} from "./store/call-store.js";
import { type Publication, type StreamBroker, streamOf } from "./streams/stream-broker.js";
import { type DeliveryRecord, toldStep } from "./timeline/call-log.js";
import { type CallRecords, memberTimeline } from "./timeline/device-timelines.js";
import type { PendingDeliveries } from "./timeline/pending-deliveries.js";
import type { TimerSource } from "./timers/timer-source.js";

export type InviteInput = Omit<InviteCommand, "type" | "callID" | "knownUsers" | "callerBusy">;

/** The frame body of an event without its seq; serialized once for every device that gets it. */
export function payloadOf(event: CallEvent): string {
  return `"ev":"${event.name}","data":${JSON.stringify(event.data)}`;
}

/** How long a device's stream remembers that it was told a call closed. */
const CLOSED_ONCE_MS = 600_000;

/**
 * A `once` key that keeps a device from being shown one invitation twice, or told twice in one
 * epoch that a call closed (the live event and a login picture's closing event can both reach a
 * device that logs in just as the call ends).
 */
export function onceOf(
  event: CallEvent,
  now: number,
  /** The call as decided, and whom the event is for: a member invited again closes again. */
  call?: Call,
  userID?: string,
): Publication["once"] {
  switch (event.name) {
    case "callInvitationReceived":
      return { key: `${event.data.callID}:${event.data.deadline}`, until: event.data.deadline };
    case "callInvitationCancelled":
    case "callInvitationTimeout":
    case "callInvitationEnded": {
      const member = call?.members.find((m) => m.userID === userID);
      if (!member) return undefined;
      return {
        key: `${event.data.callID}:closed:${member.inviteTime}`,
        until: now + CLOSED_ONCE_MS,
      };
    }
    default:
      return undefined;
  }
}

export interface CallServiceDeps {
  store: CallStore;
  broker: StreamBroker;
  presence: Presence;
  timers: TimerSource;
  relay: OutboxRelay;
  settings: EngineSettings;
  log: Logger;
  clock: () => number;
  metrics?: BeckonMetrics;
  /**
   * Told which devices were sent which invitation, and their receipts; they wait there for the
   * call's next commit, which stores them in its log entry.
   */
  deliveries?: Pick<PendingDeliveries, "record" | "take" | "putBack">;
  /** A call's facts, invitation sends and pushes, once committed ones reached the hooks. */
  records?: (callID: string) => Promise<CallRecords>;
}

export class CallService {
  private readonly queue = new KeyedQueue();
  /** Each call's latest deferred publish, so readers can wait until its events are out. */
  private readonly publishing = new Map<string, Promise<void>>();
  private readonly store: CallStore;
  private readonly clock: () => number;

  constructor(private readonly deps: CallServiceDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
  }

  /** Starts handing due timers to the engine; resolves with how many were pending. */
  startTimers(): Promise<number> {
    return this.deps.timers.start(this.onTimer);
  }

  /**
   * Makes a call. With an idempotency key the call's ID comes from the caller and the key, so a
   * retry (after a lost reply, on any node) finds the call the first attempt made and gets its
   * outcome instead of making a second call; the store's unique call ID settles a race.
   */
  async invite(input: InviteInput, idempotencyKey?: string): Promise<CallInvitationSentResult> {
    if (idempotencyKey === undefined) return this.inviteAs(timeOrderedID(), input);
    const callID = keyedCallID(input.actor.userID, idempotencyKey);
    try {
      // Not looked up first: a retry's commit finds the ID taken (or the caller busy in the
      // call the first attempt made), and only then is that call read.
      return await this.inviteAs(callID, input);
    } catch (error) {
      // An earlier attempt of the same key made the call (the ID is taken, the caller is busy
      // in it, or this attempt failed where that one had passed): that one counts.
      const raced = await this.store.getCall(callID).catch(() => undefined);
      if (raced) return firstOutcome(raced, input);
      throw error;
    }
  }

  private async inviteAs(callID: string, input: InviteInput): Promise<CallInvitationSentResult> {
    const invitees = [...new Set(input.invitees)];
    const knownUsers = await this.store.knownUsers(invitees);
    // The busy rule is checked inside the commit, atomically, so two invites at once (on any
    // nodes) cannot both pass; the engine hears of it only when it matters: the commit said
    // busy, or the invite failed and busy must take precedence over the other reasons.
    let callerBusy = false;
    for (;;) {
      const command: InviteCommand = { ...input, type: "invite", callID, knownUsers, callerBusy };
      const decision = createCall(command, this.clock(), this.deps.settings);
      if (!decision.ok) {
        if (callerBusy) throw decision.error;
        callerBusy = isBusy(await this.store.activeCallsOf(input.actor.userID), input.actor.userID);
        if (!callerBusy) throw decision.error;
        continue;
      }
      const result = await this.commit(decision, input.actor.userID);
      if (result.ok) return decision.reply;
      callerBusy = true;
    }
  }

  /**
   * Runs a command against a stored call; rejects with CallDoesNotExist for unknown calls.
   * `stillWanted`, checked in the call's turn, lets a caller drop a command that went stale
   * while it waited (it then resolves to an empty reply).
   */
  async execute<C extends CallCommand>(
    callID: string,
    command: C,
    stillWanted: () => boolean | Promise<boolean> = () => true,
  ): Promise<ReplyOf<C>> {
    return this.queue.run(callID, async () => {
      if (!(await stillWanted())) return {} as ReplyOf<C>;
      const { presence, deliveries } = this.deps;
      let listed = false;
      let riding: DeliveryRecord[] | undefined;
      let started = 0;
      let update: CallUpdate<Decision<ReplyOf<C>> & { ok: true }>;
      try {
        // Decided on the stored call while the store holds it: no other node's command on the
        // call can come in between, so nothing is decided on a stale copy or retried.
        update = await this.store.update(callID, async (call) => {
          if (!call) throw new BeckonError(ErrorCode.CallDoesNotExist, "no such call");
          const now = this.clock();
          const decision = applyCommand<C>(call, command, now, this.deps.settings);
          if (!decision.ok) throw decision.error;
          // Every device's receipt, not only the first that changed the member (in the call's
          // turn, so a read queued after it sees it).
          if (command.type === "receipt") this.recordReceipt(callID, command.actor, now);
          if (!decision.changed) return { value: decision };
          // In a cluster, the call is on this node's in-flight list until its events are out:
          // if the node is lost in between, another one makes the members' devices resync.
          await presence.commitStarted?.(callID);
          listed = true;
          riding = deliveries?.take(callID);
          started = performance.now();
          return { value: decision, change: this.changeOf(call, decision, undefined, riding) };
        });
      } catch (error) {
        if (riding) deliveries?.putBack(callID, riding);
        if (listed) presence.commitPublished?.(callID);
        throw error;
      }
      const decision = update.value;
      if (!update.result) return decision.reply;
      this.deps.metrics?.observeStoreCommit(performance.now() - started);
      if (!update.result.ok) {
        // A store that holds the call while the command is decided loses no compare-and-set.
        if (riding) deliveries?.putBack(callID, riding);
        presence.commitPublished?.(callID);
        throw new BeckonError(ErrorCode.ServerError, "the call is too busy, try again");
      }
      this.committed(decision);
      return decision.reply;
    });
  }

  /**
   * Runs `task` in the call's queue once the call's decided events are out, so what it publishes
   * (a login picture) comes after them and it sees no command half-applied.
   */
  inCallOrder<T>(callID: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(callID, async () => {
      await this.publishing.get(callID);
      return task();
    });
  }

  /**
   * Invites more users into an advanced call (callingInvite, from the SDK or the API): which of
   * them are users is looked up here, the one place both ask.
   */
  inviteMore(
    callID: string,
    command: Omit<Extract<CallCommand, { type: "callingInvite" }>, "knownUsers">,
  ): Promise<ReplyOf<Extract<CallCommand, { type: "callingInvite" }>>> {
    return this.store
      .knownUsers(command.invitees)
      .then((knownUsers) => this.execute(callID, { ...command, knownUsers }));
  }

  /** A page of the user's calls, newest first (queryCallInvitationList, the API's list). */
  callList(userID: string, count: number, nextFlag?: number) {
    return callListOf(this.store, userID, count, nextFlag);
  }

  /**
   * A call as one of its members reads it, in the call's turn (what was sent before, a receipt,
   * is decided by then); to anyone else it does not exist.
   */
  private async memberCall(callID: string, userID: string): Promise<Call> {
    const call = await this.inCallOrder(callID, () => this.store.getCall(callID));
    if (!call || !findMember(call, userID)) {
      throw new BeckonError(ErrorCode.CallDoesNotExist, "no such call");
    }
    return call;
  }

  /** The call's delivery timeline as one of its members may see it (callTimeline). */
  async memberTimeline(callID: string, userID: string): Promise<CallTimelineResult> {
    const call = await this.memberCall(callID, userID);
    const records = (await this.deps.records?.(callID)) ?? {
      facts: [],
      deliveries: [],
      pushes: [],
    };
    return memberTimeline(call.callID, records);
  }

  /** Publishes events to one device's stream (a login picture). */
  async tell(
    device: { userID: string; deviceID: string },
    events: readonly CallEvent[],
    /** The call the events are about, as read (closing events are then told once per epoch). */
    call?: Call,
  ) {
    const stream = streamOf(device.userID, device.deviceID);
    const at = this.clock();
    const sent: DeliveryRecord[] = [];
    for (const event of events) {
      if (event.name !== "callInvitationReceived") continue;
      const { callID, deadline } = event.data;
      sent.push({ callID, ...actorOf(device), step: "sent", deadline, at });
    }
    if (sent.length > 0) this.deps.deliveries?.record(sent);
    await this.deps.broker.publish(
      events.map((event) => ({
        stream,
        payload: payloadOf(event),
        once: onceOf(event, at, call, device.userID),
      })),
    );
  }

  /** Resolves once every queued command has run and its events have been published. */
  async drain(): Promise<void> {
    await this.queue.drain();
    await Promise.all(this.publishing.values());
  }

  stop(): void {
    this.deps.timers.stop(this.onTimer);
  }

  /** Commits a new call (the invite); its busy rule is checked inside the commit. */
  private async commit(
    decision: Decision<unknown> & { ok: true },
    idleUser: string,
  ): Promise<CommitResult> {
    const { callID } = decision.call;
    const { presence } = this.deps;
    await presence.commitStarted?.(callID);
    const started = performance.now();
    let result: CommitResult;
    try {
      result = await this.store.commit(this.changeOf(null, decision, idleUser));
    } catch (error) {
      presence.commitPublished?.(callID);
      throw error;
    }
    this.deps.metrics?.observeStoreCommit(performance.now() - started);
    if (!result.ok) {
      presence.commitPublished?.(callID);
      return result;
    }
    this.committed(decision);
    return result;
  }

  /** The commit of a decision made on `before` (null for a new call). */
  private changeOf(
    before: Call | null,
    decision: Decision<unknown> & { ok: true },
    idleUser?: string,
    riding?: readonly DeliveryRecord[],
  ): CallCommit {
    const { settings } = this.deps;
    return {
      call: decision.call,
      before,
      timers: timerChange(
        before ? timersOf(before, settings) : [],
        timersOf(decision.call, settings),
      ),
      facts: decision.facts,
      ...(idleUser !== undefined ? { idleUser } : {}),
      ...(riding ? { deliveries: riding } : {}),
    };
  }

  /** What follows a commit: its timers, the hooks' turn, its events. */
  private committed(decision: Decision<unknown> & { ok: true }): void {
    const { call } = decision;
    this.deps.timers.changed(
      call.callID,
      timersOf(call, this.deps.settings).map(
        (timer): StoredTimer => ({ ...timer, callID: call.callID }),
      ),
    );
    if (decision.facts.length > 0) this.deps.relay.kick();
    if (decision.deliveries.length > 0) this.publishLater(call, decision.deliveries);
    else this.deps.presence.commitPublished?.(call.callID);
  }

  private recordReceipt(callID: string, actor: Actor, at: number): void {
    this.deps.deliveries?.record([
      { callID, ...actorOf(actor), step: "received", deadline: 0, at },
    ]);
  }

  /**
   * Published once the actor's reply is written (the reply is written in the promise chain this
   * commit resolves, before any tick runs), so an app learns its callID before the events about
   * it; the two then usually share one socket write. Ticks run in order, so events keep theirs,
   * and a publish whose presence look-ups wait (Redis) holds back the call's next one.
   */
  private publishLater(call: Call, deliveries: readonly Delivery[]): void {
    const { callID } = call;
    const previous = this.publishing.get(callID);
    const published = new Promise<void>((resolve) => {
      process.nextTick(() =>
        resolve(
          previous
            ? previous.then(() => this.publish(call, deliveries))
            : this.publish(call, deliveries),
        ),
      );
    }).then(
      () => this.deps.presence.commitPublished?.(callID),
      // Left on the in-flight list: if this node is lost, the members resync.
      (error: unknown) => this.deps.log.error({ err: error, callID }, "publish failed"),
    );
    this.publishing.set(callID, published);
    void published.then(() => {
      if (this.publishing.get(callID) === published) this.publishing.delete(callID);
    });
  }

  private async publish(call: Call, deliveries: readonly Delivery[]): Promise<void> {
    const batch: Publication[] = [];
    /** Each event's payload and once key (and its `told` step), made once for all its devices. */
    const made = new Map<CallEvent, Pick<Publication, "payload" | "once"> & { told?: string }>();
    const sessions = new Map<string, DeviceState[]>();
    const recorder = this.deps.deliveries;
    const now = this.clock();
    /**
     * Invitations among them, and every other event of a call each device is told: recorded
     * before they are published, so any reader after sees them.
     */
    const sent: DeliveryRecord[] = [];
    for (const { to, event } of deliveries) {
      const invitation = event.name === "callInvitationReceived" ? event.data : null;
      if (invitation) this.deps.metrics?.observeRing(now - invitation.createTime);
      let devices = sessions.get(to.userID);
      if (!devices) {
        // Read synchronously where the presence can: the events then join the reply's write.
        const { presence } = this.deps;
        devices = presence.devicesNow?.(to.userID) ?? (await presence.devicesOf(to.userID));
        sessions.set(to.userID, devices);
      }
      // A closing event's key names its member's invitation: worked out per recipient.
      const closing = invitation ? undefined : onceOf(event, now, call, to.userID);
      for (const device of devices) {
        if (to.device !== undefined && device.deviceID !== to.device) continue;
        if (device.deviceID === to.exceptDevice) continue;
        let shared = made.get(event);
        if (shared === undefined) {
          shared = { payload: payloadOf(event), once: invitation ? onceOf(event, now) : undefined };
          if (!invitation && recorder) shared.told = toldStep(event);
          made.set(event, shared);
        }
        const { payload, told } = shared;
        const once = shared.once ?? closing;
        batch.push({ stream: streamOf(device.userID, device.deviceID), payload, once });
        if (invitation) {
          const { callID, deadline } = invitation;
          sent.push({ callID, ...actorOf(device), step: "sent", deadline, at: 0 });
        } else if (told !== undefined) {
          const step = told as DeliveryRecord["step"];
          sent.push({ callID: event.data.callID, ...actorOf(device), step, deadline: 0, at: 0 });
        }
      }
    }
    // The time it leaves, after the presence look-ups above (which wait while Redis stalls): an
    // invitation whose deadline has passed by now must not ring; its timeout follows.
    const at = this.clock();
    const live = batch.filter((publication) => !publication.once || publication.once.until > at);
    const delivered = sent.filter((send) => send.step !== "sent" || send.deadline > at);
    if (delivered.length > 0 && recorder) {
      for (const send of delivered) {
        send.at = at;
        // A `told` step's time tells one telling from the next of the same event.
        if (send.step !== "sent") send.deadline = at;
      }
      recorder.record(delivered);
    }
    if (live.length > 0) await this.deps.broker.publish(live);
  }

  private readonly onTimer = async (timer: StoredTimer): Promise<void> => {
    this.deps.metrics?.observeDeadlineLateness(this.clock() - timer.at);
    try {
      await this.execute(timer.callID, { type: "timer", timer: timer.kind, userID: timer.userID });
    } catch (error) {
      // Engine refusals are final; only infrastructure failures are worth another try.
      if (error instanceof BeckonError && error.code !== ErrorCode.ServerError) return;
      this.deps.log.error({ err: error, timer }, "timer command failed; retrying in 1 s");
      const retry = setTimeout(() => void this.onTimer(timer), 1_000);
      retry.unref();
    }
  };
}

/** A page of the user's calls as the user sees them, newest first. */
export async function callListOf(
  store: Pick<CallStore, "listCallsOf">,
  userID: string,
  count: number,
  nextFlag = 0,
): Promise<CallInvitationListQueriedResult> {
  const invalid = checkCallListQuery(count, nextFlag);
  if (invalid) throw invalid;
  const page = await store.listCallsOf(userID, count, nextFlag);
  return { callList: page.calls.map((call) => callInfoFor(call, userID)), nextFlag: page.next };
}

/** A keyed invite's call ID: the same for the same caller and key, never a time-ordered one. */
export function keyedCallID(userID: string, idempotencyKey: string): string {
  const digest = createHash("sha256").update(`${userID}\u0000${idempotencyKey}`).digest();
  return `k${digest.toString("base64url").slice(0, 31)}`;
}

/** The reply the first attempt of a keyed invite got, rebuilt from the call it made. */
function firstOutcome(call: Call, input: InviteInput): CallInvitationSentResult {
  const { userID } = input.actor;
  if (call.caller !== userID)
    throw new BeckonError(ErrorCode.ParamsInvalid, "this idempotency key belongs to another call");
  const members = new Set(call.members.map((member) => member.userID));
  const errorUserList = [...new Set(input.invitees)]
    .filter((invitee) => !members.has(invitee))
    .map((invitee) => ({
      userID: invitee,
      reason:
        !isValidUserID(invitee) || invitee === userID
          ? ErrorCode.ParamsInvalid
          : ErrorCode.CallInviteUserDoesNotExist,
    }));
  return { callID: call.callID, timeout: call.timeout, errorUserList };
}
