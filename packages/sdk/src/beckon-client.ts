// The client an app holds: the ZIM call API (ZIM's argument order) over one device's session,
// whose socket, login, reconnect and resume are ClientSession's (client-session.ts).
import type {
  CallAcceptanceSentResult,
  CallAcceptConfig,
  CallCancelConfig,
  CallCancelSentResult,
  CallEndConfig,
  CallEndSentResult,
  CallInvitationListQueriedResult,
  CallInvitationQueryConfig,
  CallInvitationSentResult,
  CallInviteConfig,
  CallingInvitationSentResult,
  CallingInviteConfig,
  CallJoinConfig,
  CallJoinSentResult,
  CallQuitConfig,
  CallQuitSentResult,
  CallRejectConfig,
  CallRejectionSentResult,
  CallTimelineResult,
} from "@beckon/protocol";
import { CallInvitationMode } from "@beckon/protocol";
import {
  optionalConfig,
  pickDefined,
  requireString,
  requireStringList,
} from "./argument-checks.js";
import { invalidParams } from "./client-errors.js";
import type { EventListeners } from "./client-events.js";
import { ClientSession } from "./client-session.js";
import { randomDeviceID } from "./device-id.js";

export type { BeckonClientOptions, LoginConfig, TokenRenewedResult } from "./client-session.js";

export type BeckonClientEventHandler = EventListeners<BeckonClient>;

export class BeckonClient extends ClientSession<BeckonClient> {
  // ── Call API (ZIM argument order) ──────────────────────────────────────────────────────────

  callInvite(invitees: string[], config: CallInviteConfig): Promise<CallInvitationSentResult> {
    return this.request("callInvite", () => ({
      invitees: requireStringList(invitees, "invitees"),
      ...pickDefined(optionalConfig(config, "config"), [
        "timeout",
        "mode",
        "extendedData",
        "enableNotReceivedCheck",
        "pushConfig",
      ]),
      // One per invitation: a retry after a lost reply returns this call, not a second one.
      idempotencyKey: randomDeviceID(),
    }));
  }

  callCancel(
    invitees: string[],
    callID: string,
    config: CallCancelConfig,
  ): Promise<CallCancelSentResult> {
    return this.request("callCancel", () => ({
      invitees: requireStringList(invitees, "invitees"),
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData", "pushConfig"]),
    }));
  }

  callAccept(callID: string, config: CallAcceptConfig): Promise<CallAcceptanceSentResult> {
    return this.request("callAccept", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData"]),
    }));
  }

  callReject(callID: string, config: CallRejectConfig): Promise<CallRejectionSentResult> {
    return this.request("callReject", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData"]),
    }));
  }

  callingInvite(
    invitees: string[],
    callID: string,
    config: CallingInviteConfig,
  ): Promise<CallingInvitationSentResult> {
    return this.request("callingInvite", () => ({
      invitees: requireStringList(invitees, "invitees"),
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["pushConfig"]),
    }));
  }

  async callJoin(callID: string, config: CallJoinConfig): Promise<CallJoinSentResult> {
    const result = await this.request("callJoin", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData"]),
    }));
    this.openCalls.open(result.callID, CallInvitationMode.Advanced, result.callUserList);
    return result;
  }

  callQuit(callID: string, config: CallQuitConfig): Promise<CallQuitSentResult> {
    return this.request("callQuit", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData", "pushConfig"]),
    }));
  }

  callEnd(callID: string, config: CallEndConfig): Promise<CallEndSentResult> {
    return this.request("callEnd", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData", "pushConfig"]),
    }));
  }

  queryCallInvitationList(
    config: CallInvitationQueryConfig,
  ): Promise<CallInvitationListQueriedResult> {
    return this.request("queryCallInvitationList", () => {
      const query = optionalConfig(config, "config");
      if (typeof query.count !== "number") throw invalidParams("config.count must be a number");
      return { count: query.count, nextFlag: query.nextFlag ?? 0 };
    });
  }

  /**
   * A Beckon addition: the call's delivery timeline (per device: sent, received, pushed,
   * answered, in server time). For any member of the call; others get CallDoesNotExist.
   */
  callTimeline(callID: string): Promise<CallTimelineResult> {
    return this.request("callTimeline", () => ({ callID: requireString(callID, "callID") }));
  }
}
