// Applies commands to calls: one at a time per call, load -> engine -> store -> bus. The only
// place where engine decisions become durable and visible.
import { randomBytes } from "node:crypto";
import {
  applyCommand,
  type CallCommand,
  createCall,
  type Decision,
  type EngineSettings,
  type InviteCommand,
  isBusy,
  type ReplyOf,
  timersOf,
} from "@beckon/engine";
import { BeckonError, type CallInvitationSentResult, ErrorCode } from "@beckon/protocol";
import type { Logger } from "pino";
import type { Bus } from "./bus/bus.js";
import { KeyedQueue } from "./keyed-queue.js";
import type { CallStore, StoredTimer } from "./store/call-store.js";
import { TimerScheduler } from "./timer-scheduler.js";

const MAX_VERSION_RETRIES = 5;

export type InviteInput = Omit<InviteCommand, "type" | "callID" | "knownUsers" | "callerBusy">;

export class CallService {
  private readonly queue = new KeyedQueue();
  /** Each call's latest deferred publish, so readers can wait until its events are out. */
  private readonly publishing = new Map<string, Promise<void>>();
  readonly scheduler: TimerScheduler;

  constructor(
    private readonly store: CallStore,
    private readonly bus: Bus,
    private readonly settings: EngineSettings,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.scheduler = new TimerScheduler((timer) => this.onTimer(timer), clock);
  }

  /** Loads every stored timer into the scheduler (start-up). */
  async restoreTimers(): Promise<number> {
    const timers = await this.store.allTimers();
    const byCall = new Map<string, StoredTimer[]>();
    for (const timer of timers) {
      const list = byCall.get(timer.callID);
      if (list) list.push(timer);
      else byCall.set(timer.callID, [timer]);
    }
    for (const [callID, list] of byCall) this.scheduler.replace(callID, list);
    return timers.length;
  }

  async invite(input: InviteInput): Promise<CallInvitationSentResult> {
    const callID = randomBytes(16).toString("base64url");
    // One invite at a time per caller, so two at once cannot both pass the busy rule. Nobody
    // knows the new callID yet, so the call's own queue has nothing to order.
    return this.queue.run(`caller\u0000${input.actor.userID}`, async () => {
      const invitees = [...new Set(input.invitees)];
      const [knownUsers, active] = await Promise.all([
        this.store.knownUsers(invitees),
        this.store.activeCallsOf(input.actor.userID),
      ]);
      const command: InviteCommand = {
        ...input,
        type: "invite",
        callID,
        knownUsers,
        callerBusy: isBusy(active, input.actor.userID),
      };
      const decision = createCall(command, this.clock(), this.settings);
      if (!decision.ok) throw decision.error;
      await this.store.insertCall(decision.call, timersOf(decision.call, this.settings));
      this.commit(decision);
      return decision.reply;
    });
  }

  /**
   * Runs a command against a stored call; rejects with CallDoesNotExist for unknown calls.
   * `stillWanted`, checked in the call's turn, lets a caller drop a command that went stale
   * while it waited (it then resolves to an empty reply).
   */
  async execute<C extends CallCommand>(
    callID: string,
    command: C,
    stillWanted: () => boolean = () => true,
  ): Promise<ReplyOf<C>> {
    return this.queue.run(callID, async () => {
      if (!stillWanted()) return {} as ReplyOf<C>;
      for (let attempt = 0; attempt < MAX_VERSION_RETRIES; attempt++) {
        const call = await this.store.getCall(callID);
        if (!call) throw new BeckonError(ErrorCode.CallDoesNotExist, "no such call");
        const decision = applyCommand<C>(call, command, this.clock(), this.settings);
        if (!decision.ok) throw decision.error;
        if (!decision.changed) return decision.reply;
        const timers = timersOf(decision.call, this.settings);
        if (await this.store.updateCall(decision.call, call.version, timers)) {
          this.commit(decision);
          return decision.reply;
        }
        // Another node changed the call between our read and write: decide again on fresh state.
      }
      throw new BeckonError(ErrorCode.ServerError, "the call is too busy, try again");
    });
  }

  /**
   * Runs `task` in the call's queue once the call's decided events are out, so what it sends
   * (a login picture) comes after them and it sees no command half-applied.
   */
  inCallOrder<T>(callID: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(callID, async () => {
      await this.publishing.get(callID);
      return task();
    });
  }

  /** Resolves once every queued command has run and its events have been published. */
  async drain(): Promise<void> {
    await this.queue.drain();
    await Promise.all(this.publishing.values());
  }

  stop(): void {
    this.scheduler.stop();
  }

  private commit(decision: Decision<unknown> & { ok: true }): void {
    const { call } = decision;
    this.scheduler.replace(call.callID, timersOf(call, this.settings));
    if (decision.deliveries.length === 0) return;
    const message = { callID: call.callID, deliveries: decision.deliveries };
    // Published on the next turn, after the actor's reply has gone out, so an app learns its
    // callID before the events about it. setImmediate runs in order, so events keep theirs.
    const published = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.bus.publish(message))
      .catch((error: unknown) =>
        this.log.error({ err: error, callID: call.callID }, "publish failed"),
      );
    this.publishing.set(call.callID, published);
    void published.then(() => {
      if (this.publishing.get(call.callID) === published) this.publishing.delete(call.callID);
    });
  }

  private onTimer(timer: StoredTimer): void {
    this.execute(timer.callID, { type: "timer", timer: timer.kind, userID: timer.userID }).catch(
      (error: unknown) => {
        // Engine refusals are final; only infrastructure failures are worth another try.
        if (error instanceof BeckonError && error.code !== ErrorCode.ServerError) return;
        this.log.error({ err: error, timer }, "timer command failed; retrying in 1 s");
        const retry = setTimeout(() => this.onTimer(timer), 1_000);
        retry.unref();
      },
    );
  }
}
