// ZIM's deprecated general-mode events (`callInvitationAccepted`, `callInvitationRejected`,
// `callInviteesAnsweredTimeout`), which kits written for ZIM before 2.9 still listen to. ZIM 2.29
// derives them on the device from the same state changes as `callUserStateChanged`; so does this,
// emitting each once per transition (a login picture repeats states the device already knew).
import {
  type CallEventMap,
  type CallEventName,
  CallInvitationMode,
  CallUserState,
} from "@beckon/protocol";

export interface ZIMEventOfCallInvitationAcceptedResult {
  callID: string;
  invitee: string;
  extendedData: string;
}

export interface ZIMEventOfCallInvitationRejectedResult {
  callID: string;
  invitee: string;
  extendedData: string;
}

export interface ZIMEventOfCallInviteesAnsweredTimeoutResult {
  callID: string;
  invitees: string[];
}

export interface LegacyEventMap {
  callInvitationAccepted: ZIMEventOfCallInvitationAcceptedResult;
  callInvitationRejected: ZIMEventOfCallInvitationRejectedResult;
  callInviteesAnsweredTimeout: ZIMEventOfCallInviteesAnsweredTimeoutResult;
}

export type LegacyEvent = {
  [K in keyof LegacyEventMap]: { name: K; data: LegacyEventMap[K] };
}[keyof LegacyEventMap];

interface KnownCall {
  caller: string;
  states: Map<string, CallUserState>;
}

/** The device forgets the oldest calls beyond this many; general calls are short-lived. */
const MAX_CALLS = 100;

export class LegacyCallEvents {
  private readonly calls = new Map<string, KnownCall>();

  clear(): void {
    this.calls.clear();
  }

  /** The deprecated events `name`/`data` implies for this device of `self`, in ZIM's order. */
  derive<K extends CallEventName>(name: K, data: CallEventMap[K], self: string): LegacyEvent[] {
    const event = { name, data } as {
      [N in CallEventName]: { name: N; data: CallEventMap[N] };
    }[CallEventName];
    switch (event.name) {
      case "callInvitationCreated":
      case "callInvitationReceived":
        // Only general calls had these events in ZIM.
        if (event.data.mode !== CallInvitationMode.General) return [];
        this.remember(event.data.callID, {
          caller: event.data.caller,
          states: new Map(event.data.callUserList.map((user) => [user.userID, user.state])),
        });
        return [];
      case "callUserStateChanged":
        return this.changed(event.data, self);
      default:
        return [];
    }
  }

  private remember(callID: string, call: KnownCall): void {
    this.calls.delete(callID);
    this.calls.set(callID, call);
    if (this.calls.size > MAX_CALLS) {
      const oldest = this.calls.keys().next().value;
      if (oldest !== undefined) this.calls.delete(oldest);
    }
  }

  private changed(data: CallEventMap["callUserStateChanged"], self: string): LegacyEvent[] {
    const call = this.calls.get(data.callID);
    if (!call) return [];
    const events: LegacyEvent[] = [];
    const timedOut: string[] = [];
    for (const user of data.callUserList) {
      const before = call.states.get(user.userID);
      call.states.set(user.userID, user.state);
      // The user's own answers come back as replies; ZIM tells others of them.
      if (before === user.state || user.userID === self) continue;
      const answer = { callID: data.callID, invitee: user.userID, extendedData: user.extendedData };
      if (user.state === CallUserState.Accepted) {
        events.push({ name: "callInvitationAccepted", data: answer });
      } else if (user.state === CallUserState.Rejected) {
        events.push({ name: "callInvitationRejected", data: answer });
      } else if (user.state === CallUserState.Timeout && call.caller === self) {
        timedOut.push(user.userID);
      }
    }
    // Only the inviter hears that its invitees did not answer (ZIM's inviter-side timer).
    if (timedOut.length > 0) {
      events.push({
        name: "callInviteesAnsweredTimeout",
        data: { callID: data.callID, invitees: timedOut },
      });
    }
    return events;
  }
}
