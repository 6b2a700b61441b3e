// The ZIM-style façade: one process-wide instance created with ZIM.create, delegating to a
// BeckonClient, whose listeners receive the ZIM instance as ZIM's do.
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
  ConnectionState,
} from "@beckon/protocol";
import {
  BeckonClient,
  type BeckonClientOptions,
  type LoginConfig,
  type TokenRenewedResult,
} from "./beckon-client.js";
import { invalidParams } from "./client-errors.js";
import { type BeckonEventName, type BeckonListener, beckonEventNames } from "./client-events.js";
import { ListenerRegistry } from "./listener-registry.js";

export interface ZIMAppConfig extends Omit<BeckonClientOptions, "url"> {
  /** Kept for ZIM compatibility; one Beckon server serves one app, so it is not sent. */
  appID: number;
  /** The Beckon server's WebSocket URL (ZIM has no such field: it always talks to ZEGO). */
  server: string;
  /** Kept for ZIM compatibility and unused: Beckon authenticates with the login token. */
  appSign?: string;
}

export class ZIM {
  private static instance: ZIM | null = null;

  private readonly client: BeckonClient;
  private readonly listeners = new ListenerRegistry<ZIM>(this);

  private constructor(config: ZIMAppConfig) {
    const { appID: _appID, server, appSign: _appSign, ...options } = config;
    this.client = new BeckonClient({ ...options, url: server });
    for (const name of beckonEventNames) this.forward(name);
  }

  /**
   * Creates the process-wide instance, or returns the existing one (whatever config is passed
   * then). ZIM's legacy `create(appID)` form throws: Beckon needs the server URL.
   */
  static create(config: ZIMAppConfig | number): ZIM | null {
    if (typeof config === "number" || typeof config !== "object" || config === null) {
      throw invalidParams(
        "ZIM.create(appID) is not supported by Beckon: pass { appID, server } with server set to the Beckon server's WebSocket URL",
      );
    }
    if (typeof config.server !== "string" || config.server === "") {
      throw invalidParams(
        "ZIM.create: config.server (the Beckon server's WebSocket URL) is required",
      );
    }
    if (!ZIM.instance) ZIM.instance = new ZIM(config);
    return ZIM.instance;
  }

  static getInstance(): ZIM | null {
    return ZIM.instance;
  }

  get deviceID(): string {
    return this.client.deviceID;
  }

  get connectionState(): ConnectionState {
    return this.client.connectionState;
  }

  login(userID: string, config: LoginConfig): Promise<void> {
    return this.client.login(userID, config);
  }

  logout(): Promise<void> {
    return this.client.logout();
  }

  renewToken(token: string): Promise<TokenRenewedResult> {
    return this.client.renewToken(token);
  }

  /** Logs out, drops every listener and clears the instance, so ZIM.create makes a new one. */
  destroy(): Promise<void> {
    if (ZIM.instance === this) ZIM.instance = null;
    const done = this.client.destroy();
    this.listeners.clear();
    return done;
  }

  on<K extends BeckonEventName>(event: K, listener: BeckonListener<ZIM, K>): void {
    this.listeners.add(event, listener);
  }

  off<K extends BeckonEventName>(event: K, listener?: BeckonListener<ZIM, K>): void {
    this.listeners.remove(event, listener);
  }

  callInvite(invitees: string[], config: CallInviteConfig): Promise<CallInvitationSentResult> {
    return this.client.callInvite(invitees, config);
  }

  callCancel(
    invitees: string[],
    callID: string,
    config: CallCancelConfig,
  ): Promise<CallCancelSentResult> {
    return this.client.callCancel(invitees, callID, config);
  }

  callAccept(callID: string, config: CallAcceptConfig): Promise<CallAcceptanceSentResult> {
    return this.client.callAccept(callID, config);
  }

  callReject(callID: string, config: CallRejectConfig): Promise<CallRejectionSentResult> {
    return this.client.callReject(callID, config);
  }

  callingInvite(
    invitees: string[],
    callID: string,
    config: CallingInviteConfig,
  ): Promise<CallingInvitationSentResult> {
    return this.client.callingInvite(invitees, callID, config);
  }

  callJoin(callID: string, config: CallJoinConfig): Promise<CallJoinSentResult> {
    return this.client.callJoin(callID, config);
  }

  callQuit(callID: string, config: CallQuitConfig): Promise<CallQuitSentResult> {
    return this.client.callQuit(callID, config);
  }

  callEnd(callID: string, config: CallEndConfig): Promise<CallEndSentResult> {
    return this.client.callEnd(callID, config);
  }

  queryCallInvitationList(
    config: CallInvitationQueryConfig,
  ): Promise<CallInvitationListQueriedResult> {
    return this.client.queryCallInvitationList(config);
  }

  private forward<K extends BeckonEventName>(name: K): void {
    const relay: BeckonListener<BeckonClient, K> = (_client, data) =>
      this.listeners.emit(name, data);
    this.client.on(name, relay);
  }
}
