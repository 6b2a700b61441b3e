// Offline push from committed facts (SPEC §5 "Offline"): an invitee with no attached device is
// pushed the invitation on each of its registrations; a cancel, quit or end that carries a
// pushConfig is pushed to every device that was pushed the invitation, so a killed app stops
// ringing. The hook only claims and enqueues: sending happens in the dispatcher.
import { type Call, type Fact, findMember } from "@beckon/engine";
import { isPending } from "@beckon/protocol";
import type { FactMeta, Hook } from "../hooks/hook.js";
import type { Presence } from "../presence/presence.js";
import type { CallStore } from "../store/call-store.js";
import type { PushDispatcher } from "./push-dispatcher.js";
import type { PushRegistrationStore } from "./push-registration-store.js";
import type { PushContent, PushKind, PushMessage } from "./push-types.js";

export interface PushHookOptions {
  calls: Pick<CallStore, "getCall">;
  presence: Pick<Presence, "devicesOf">;
  registrations: PushRegistrationStore;
  dispatcher: PushDispatcher;
  clock?: () => number;
}

/** The pushConfig of the command behind a fact (cancel, callingInvite, quit, end), if any. */
function pushConfigOf(fact: Fact): PushContent | undefined {
  return fact.kind === "call.created" ? undefined : fact.pushConfig;
}

/** The ZIMPushConfig fields Beckon keeps, copied without anything else the object may hold. */
function contentOf(config: PushContent): PushContent {
  return {
    title: config.title,
    content: config.content,
    payload: config.payload,
    ...(config.resourcesID !== undefined ? { resourcesID: config.resourcesID } : {}),
    ...(config.enableBadge !== undefined ? { enableBadge: config.enableBadge } : {}),
    ...(config.badgeIncrement !== undefined ? { badgeIncrement: config.badgeIncrement } : {}),
    ...(config.voIPConfig !== undefined ? { voIPConfig: config.voIPConfig } : {}),
  };
}

export class PushHook implements Hook {
  readonly name = "push";
  private readonly clock: () => number;

  constructor(private readonly options: PushHookOptions) {
    this.clock = options.clock ?? Date.now;
  }

  async onFact(fact: Fact, meta: FactMeta): Promise<void> {
    switch (fact.kind) {
      case "member.invited":
        return this.invite(fact, meta);
      case "member.cancelled":
        return this.stop("cancel", fact, meta, (userID) => userID === fact.userID);
      case "member.quit":
        return this.stop("quit", fact, meta, (userID) => userID !== fact.userID);
      case "call.ended":
        return this.stop("end", fact, meta, (userID) => userID !== fact.by?.userID);
      default:
        return;
    }
  }

  private async invite(fact: Extract<Fact, { userID: string }>, meta: FactMeta): Promise<void> {
    // The cheap questions first: most invitees are online, and most have no registration.
    const devices = await this.options.presence.devicesOf(fact.userID);
    if (devices.some((device) => device.awaySince === 0)) return;
    const registrations = await this.options.registrations.listOf(fact.userID);
    if (registrations.length === 0) return;
    const call = await this.options.calls.getCall(fact.callID);
    const member = call && findMember(call, fact.userID);
    // Answered, cancelled or timed out before the relay got here: nothing left to ring.
    if (!call || !member || !isPending(member.state)) return;
    const config = pushConfigOf(fact) ?? call.pushConfig ?? undefined;
    if (!config) return;
    const message = this.message(
      "invite",
      call,
      config,
      fact.inviter ?? call.caller,
      member.deadline,
    );
    const now = this.clock();
    for (const registration of registrations) {
      const send = await this.options.registrations.claimSend(meta.id, registration, message, now);
      if (send) this.options.dispatcher.enqueue(send, registration);
    }
  }

  private async stop(
    kind: Exclude<PushKind, "invite">,
    fact: Fact,
    meta: FactMeta,
    recipient: (userID: string) => boolean,
  ): Promise<void> {
    const config = pushConfigOf(fact);
    if (!config) return;
    const pushed = (await this.options.registrations.invitesPushed(fact.callID)).filter((send) =>
      recipient(send.userID),
    );
    if (pushed.length === 0) return;
    const call = await this.options.calls.getCall(fact.callID);
    if (!call) return;
    const operatedUserID = fact.by?.userID ?? "";
    const message = this.message(kind, call, config, operatedUserID, 0);
    // One stop push per device per commit: a general call's cancel also ends it, and a last quit
    // ends an advanced call, in the same version.
    const dedupeKey = `${fact.callID}:${meta.version}:stop`;
    const now = this.clock();
    const seen = new Set<string>();
    for (const invite of pushed) {
      if (seen.has(invite.registrationID)) continue;
      seen.add(invite.registrationID);
      const registration = await this.options.registrations.get(invite.registrationID);
      if (!registration) continue;
      const send = await this.options.registrations.claimSend(
        dedupeKey,
        registration,
        message,
        now,
      );
      if (send) this.options.dispatcher.enqueue(send, registration);
    }
  }

  private message(
    kind: PushKind,
    call: Call,
    config: PushContent,
    operatedUserID: string,
    deadline: number,
  ): PushMessage {
    return {
      kind,
      callID: call.callID,
      caller: call.caller,
      operatedUserID,
      mode: call.mode,
      deadline,
      sentAt: this.clock(),
      ...contentOf(config),
    };
  }
}
