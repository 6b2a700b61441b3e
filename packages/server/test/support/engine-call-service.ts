// The call path the server API drives, composed from the real engine and the real SQLite store
// (decide → commit with facts → relay the facts to hooks in order), for testing the API plugin
// on its own Fastify instance.
import { randomBytes } from "node:crypto";
import {
  applyCommand,
  type CallCommand,
  createCall,
  defaultEngineSettings,
  type Fact,
  isBusy,
  type ReplyOf,
  timersOf,
} from "@beckon/engine";
import { BeckonError, ErrorCode } from "@beckon/protocol";
import type { ApiCallService } from "../../src/api/api-dependencies.js";
import { callListOf } from "../../src/call-service.js";
import type { Hook } from "../../src/hooks/hook.js";
import { type CallStore, timerChange } from "../../src/store/call-store.js";

export class EngineCallService implements ApiCallService {
  constructor(
    private readonly store: CallStore,
    private readonly hooks: readonly Hook[],
  ) {}

  async invite(input: Parameters<ApiCallService["invite"]>[0]) {
    const invitees = [...new Set(input.invitees)];
    const [knownUsers, active] = await Promise.all([
      this.store.knownUsers(invitees),
      this.store.activeCallsOf(input.actor.userID),
    ]);
    const decision = createCall(
      {
        ...input,
        type: "invite",
        callID: randomBytes(16).toString("base64url"),
        knownUsers,
        callerBusy: isBusy(active, input.actor.userID),
      },
      Date.now(),
      defaultEngineSettings,
    );
    if (!decision.ok) throw decision.error;
    const result = await this.store.commit({
      call: decision.call,
      before: null,
      timers: timerChange([], timersOf(decision.call, defaultEngineSettings)),
      facts: decision.facts,
      idleUser: input.actor.userID,
    });
    if (!result.ok) throw new BeckonError(ErrorCode.CallCommonError, "the caller is busy");
    await this.relay(decision.call.callID, decision.call.version, decision.facts);
    return decision.reply;
  }

  async inviteMore(...[callID, command]: Parameters<ApiCallService["inviteMore"]>) {
    const knownUsers = await this.store.knownUsers(command.invitees);
    return this.execute(callID, { ...command, knownUsers });
  }

  callList(userID: string, count: number, nextFlag?: number) {
    return callListOf(this.store, userID, count, nextFlag);
  }

  async execute<C extends CallCommand>(callID: string, command: C): Promise<ReplyOf<C>> {
    const call = await this.store.getCall(callID);
    if (!call) throw new BeckonError(ErrorCode.CallDoesNotExist, "no such call");
    const decision = applyCommand<C>(call, command, Date.now(), defaultEngineSettings);
    if (!decision.ok) throw decision.error;
    if (!decision.changed) return decision.reply;
    const result = await this.store.commit({
      call: decision.call,
      before: call,
      timers: timerChange(
        timersOf(call, defaultEngineSettings),
        timersOf(decision.call, defaultEngineSettings),
      ),
      facts: decision.facts,
    });
    if (!result.ok) throw new BeckonError(ErrorCode.ServerError, "the call changed meanwhile");
    await this.relay(callID, decision.call.version, decision.facts);
    return decision.reply;
  }

  /** What the outbox relay does: each fact, in order, to each hook, with its idempotency key. */
  private async relay(callID: string, version: number, facts: Fact[]): Promise<void> {
    for (const [index, fact] of facts.entries()) {
      for (const hook of this.hooks) {
        await hook.onFact?.(fact, { id: `${callID}:${version}:${index}`, version });
      }
    }
  }
}
