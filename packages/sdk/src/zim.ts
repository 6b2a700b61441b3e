// The ZIM-style façade: one process-wide instance created with ZIM.create, delegating to a
// BeckonClient, whose listeners receive the ZIM instance as ZIM's do. It mirrors the shape of
// ZIM's module (statics, overloads, deprecated events) so kits run with only their import changed.
import {
  BeckonError,
  type CallAcceptanceSentResult,
  type CallAcceptConfig,
  type CallCancelConfig,
  type CallCancelSentResult,
  type CallEndConfig,
  type CallEndSentResult,
  type CallEventMap,
  type CallEventName,
  type CallInvitationListQueriedResult,
  type CallInvitationQueryConfig,
  type CallInvitationSentResult,
  type CallInviteConfig,
  type CallingInvitationSentResult,
  type CallingInviteConfig,
  type CallJoinConfig,
  type CallJoinSentResult,
  type CallQuitConfig,
  type CallQuitSentResult,
  type CallRejectConfig,
  type CallRejectionSentResult,
  type CallTimelineResult,
  type CallUserInfo,
  callEventNames,
  ErrorCode,
  ZIMCallInvitationMode,
  ZIMCallState,
  ZIMCallUserState,
  ZIMConnectionEvent,
  ZIMConnectionState,
} from "@beckon/protocol";
import {
  BeckonClient,
  type BeckonClientOptions,
  type LoginConfig,
  type TokenRenewedResult,
} from "./beckon-client.js";
import { invalidParams, notLoggedIn } from "./client-errors.js";
import { type BeckonEventMap, type BeckonEventName, beckonEventNames } from "./client-events.js";
import { randomDeviceID } from "./device-id.js";
import { ListenerRegistry } from "./listener-registry.js";
import { LegacyCallEvents, type LegacyEventMap } from "./zim-legacy-events.js";
import {
  checkServerURL,
  registerServer,
  serverFor,
  tokenHookFor,
  type ZIMServerOptions,
  type ZIMTokenHook,
} from "./zim-server-config.js";
import {
  installUnsupportedMethods,
  type UnsupportedMethods,
  unsupported,
} from "./zim-unsupported-methods.js";

/** The ZIM version whose observable call-invitation behaviour Beckon follows. */
const ZIM_COMPATIBLE_VERSION = "2.29.0";
const BECKON_SDK_VERSION = "0.1.0";

export interface ZIMAppConfig extends Omit<BeckonClientOptions, "url"> {
  /** Kept for ZIM compatibility; one Beckon server serves one app, so it is not sent. */
  appID: number;
  /**
   * The Beckon server's WebSocket URL. Optional: without it, the server registered with
   * `ZIM.setServer` (for this appID, or for all) is used, else `BECKON_SERVER_URL` in Node.
   */
  server?: string;
  /** Kept for ZIM compatibility and unused: Beckon authenticates with the login token. */
  appSign?: string;
}

/** ZIM's login options: `token` is required by Beckon, the rest is accepted and ignored. */
export interface ZIMLoginConfig extends LoginConfig {
  customStatus?: string;
  customStatusDuration?: number;
}

/** The user of ZIM's deprecated `login(userInfo, token)`; only `userID` matters to Beckon. */
export interface ZIMUserInfo {
  userID: string;
  userName?: string;
  userAvatarUrl?: string;
  userExtendedData?: string;
}

/** `callInvite`'s result, with ZIM's deprecated `errorInvitees` beside `errorUserList`. */
export interface ZIMCallInvitationSentResult extends CallInvitationSentResult {
  /** @deprecated Use `errorUserList`. The same users, with state `Unknown`. */
  errorInvitees: CallUserInfo[];
}

export type ZIMEventMap = BeckonEventMap & LegacyEventMap;

/** The mini-program SDK's name for the instance class (`ZIMSDK`); the same class here. */
export type ZIMSDK = ZIM;

/** Listener type per event name, as in ZIM: `zim.on('callInvitationReceived', (zim, data) => …)`. */
export type ZIMEventHandler = {
  [K in keyof ZIMEventMap]: (zim: ZIM, data: ZIMEventMap[K]) => void;
};

const callEvents: ReadonlySet<string> = new Set(callEventNames);

function isCallEvent(name: BeckonEventName): name is CallEventName {
  return callEvents.has(name);
}

function appConfigOf(config: ZIMAppConfig | number): ZIMAppConfig {
  if (typeof config === "number") return { appID: config };
  if (typeof config !== "object" || config === null) {
    throw invalidParams("ZIM.create: pass { appID } or an appID number");
  }
  return config;
}

// Declared here, installed on the prototype below: the IM half of ZIM's API, which rejects.
export interface ZIM extends UnsupportedMethods {}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface's stubs are installed on the prototype right after the class
export class ZIM {
  // The enums as statics of the class, as ZIM SDKs before the top-level ZIM* exports had them.
  static readonly CallInvitationMode = ZIMCallInvitationMode;
  static readonly CallState = ZIMCallState;
  static readonly CallUserState = ZIMCallUserState;
  static readonly ConnectionState = ZIMConnectionState;
  static readonly ConnectionEvent = ZIMConnectionEvent;
  static readonly ErrorCode = ErrorCode;

  private static instance: ZIM | null = null;

  readonly deviceID: string;
  private readonly appID: number;
  private readonly options: Omit<BeckonClientOptions, "url">;
  /** Made at create when its config names the server, else at the first login. */
  private client: BeckonClient | null = null;
  private readonly listeners = new ListenerRegistry<ZIM, ZIMEventMap>(this);
  private readonly legacy = new LegacyCallEvents();

  private constructor(config: ZIMAppConfig) {
    const { appID, server, appSign: _appSign, ...options } = config;
    this.appID = appID;
    this.deviceID = options.deviceID ?? randomDeviceID();
    this.options = { ...options, deviceID: this.deviceID };
    // A registered server is looked up at the first login, so setServer may come after create.
    if (server !== undefined) this.client = this.connectTo(checkServerURL(server, "server"));
  }

  /**
   * Creates the process-wide instance, or returns the existing one (whatever config is passed
   * then). `ZIM.create(appID)` and `ZIM.create({ appID })` need no server: `login` finds it
   * (`ZIM.setServer`, or `BECKON_SERVER_URL` in Node), or rejects saying none is known.
   */
  static create(appConfig: ZIMAppConfig | number): ZIM | null {
    const config = appConfigOf(appConfig);
    if (!Number.isSafeInteger(config.appID)) {
      throw invalidParams("ZIM.create: appID must be a whole number");
    }
    if (!ZIM.instance) ZIM.instance = new ZIM(config);
    return ZIM.instance;
  }

  static getInstance(): ZIM | null {
    return ZIM.instance;
  }

  /**
   * Tells the façade where the Beckon server is, so a kit's own `ZIM.create({ appID })` needs
   * no change: for one appID, or for every appID when `appID` is omitted. Call it at start-up,
   * before the kit logs in. `{ token }` maps the token the kit hands to `login` and
   * `renewToken` (e.g. ZEGO's own kit token) to the Beckon token sent instead.
   */
  static setServer(url: string, appIDOrOptions?: number | ZIMServerOptions): void {
    registerServer(url, appIDOrOptions);
  }

  /** ZIM's version that Beckon follows, with Beckon's own as build metadata. */
  static getVersion(): string {
    return `${ZIM_COMPATIBLE_VERSION}+beckon.${BECKON_SDK_VERSION}`;
  }

  /** Accepted for ZIM compatibility; no ZIM advanced setting changes Beckon. */
  static setAdvancedConfig(_key: string, _value: string): void {}

  get connectionState(): ZIMConnectionState {
    return this.client?.connectionState ?? ZIMConnectionState.Disconnected;
  }

  /** @deprecated ZIM's form since 2.13: `login(userID, { token, userName })`. */
  login(userInfo: ZIMUserInfo, token: string): Promise<void>;
  login(userID: string, config: ZIMLoginConfig): Promise<void>;
  login(user: string | ZIMUserInfo, config: ZIMLoginConfig | string): Promise<void> {
    const client = this.client ?? this.connectToRegisteredServer();
    if (client instanceof BeckonError) return Promise.reject(client);
    const userID = typeof user === "object" && user !== null ? user.userID : user;
    if (client.userID !== null && client.userID !== userID) {
      // ZIM's code for a second account on one device; kits check for it.
      return Promise.reject(
        new BeckonError(
          ErrorCode.NetworkModuleUserHasAlreadyLogged,
          `already logged in as ${client.userID}; call logout() first`,
        ),
      );
    }
    let loginConfig: LoginConfig;
    if (typeof user === "object" && user !== null) {
      loginConfig =
        typeof config === "string" ? { token: config, userName: user.userName } : config;
    } else {
      loginConfig = typeof config === "string" ? { token: config } : config;
    }
    const hook = tokenHookFor(this.appID);
    if (!hook) return client.login(userID, loginConfig);
    const userInfo =
      loginConfig?.userName === undefined ? { userID } : { userID, userName: loginConfig.userName };
    return mapToken(hook, loginConfig?.token, userInfo).then((token) =>
      client.login(userID, { ...loginConfig, token }),
    );
  }

  /** ZIM's `logout(config?)`; the config is accepted and ignored. Never rejects. */
  logout(_config?: object): Promise<void> {
    return this.client?.logout() ?? Promise.resolve();
  }

  renewToken(token: string): Promise<TokenRenewedResult> {
    const client = this.client;
    if (!client) return Promise.reject(notLoggedIn());
    const hook = tokenHookFor(this.appID);
    if (!hook || client.userID === null) return client.renewToken(token);
    return mapToken(hook, token, { userID: client.userID }).then((beckonToken) =>
      client.renewToken(beckonToken),
    );
  }

  /** Logs out, drops every listener and clears the instance, so ZIM.create makes a new one. */
  destroy(): Promise<void> {
    if (ZIM.instance === this) ZIM.instance = null;
    const done = this.client?.destroy() ?? Promise.resolve();
    this.listeners.clear();
    this.legacy.clear();
    return done;
  }

  /** Accepted for ZIM compatibility: Beckon's SDK keeps no log files. */
  setLogConfig(_config: object): void {}

  /** Resolves at once: there are no SDK logs to upload. */
  uploadLog(): Promise<void> {
    return Promise.resolve();
  }

  /** Room attributes are not supported: throws, since ZIM's method returns nothing to reject. */
  beginRoomAttributesBatchOperation(..._args: unknown[]): void {
    throw unsupported("beginRoomAttributesBatchOperation");
  }

  /**
   * Typed per event, so `zim.on('callUserStateChanged', (zim, info) => …)` infers `info`; the
   * signature is both ZEGO SDKs' (`listener: ZIMEventHandler[K]`), so a kit that binds its
   * listeners through a generic helper compiles unchanged.
   */
  on<K extends keyof ZIMEventHandler>(type: K, listener: ZIMEventHandler[K]): void;
  /** The same, for a helper generic over the event that builds `(zim, data) => …` itself. */
  on<K extends keyof ZIMEventMap>(
    type: K,
    listener: (zim: ZIM, data: ZIMEventMap[K]) => void,
  ): void;
  on<K extends keyof ZIMEventMap>(
    type: K,
    listener: (zim: ZIM, data: ZIMEventMap[K]) => void,
  ): void {
    this.listeners.add(type, listener);
  }

  /** Without a listener, removes every listener of the event, as ZIM's `off(type)` does. */
  off<K extends keyof ZIMEventHandler>(type: K, listener?: ZIMEventHandler[K]): void;
  off<K extends keyof ZIMEventMap>(
    type: K,
    listener?: (zim: ZIM, data: ZIMEventMap[K]) => void,
  ): void;
  off<K extends keyof ZIMEventMap>(
    type: K,
    listener?: (zim: ZIM, data: ZIMEventMap[K]) => void,
  ): void {
    this.listeners.remove(type, listener);
  }

  async callInvite(
    invitees: string[],
    config: CallInviteConfig,
  ): Promise<ZIMCallInvitationSentResult> {
    const result = await this.loggedInClient().callInvite(invitees, config);
    const errorInvitees = result.errorUserList.map(({ userID }) => ({
      userID,
      state: ZIMCallUserState.Unknown,
      extendedData: "",
    }));
    return { ...result, errorInvitees };
  }

  callCancel(
    invitees: string[],
    callID: string,
    config: CallCancelConfig,
  ): Promise<CallCancelSentResult> {
    return this.loggedInClient().callCancel(invitees, callID, config);
  }

  callAccept(callID: string, config: CallAcceptConfig): Promise<CallAcceptanceSentResult> {
    return this.loggedInClient().callAccept(callID, config);
  }

  callReject(callID: string, config: CallRejectConfig): Promise<CallRejectionSentResult> {
    return this.loggedInClient().callReject(callID, config);
  }

  callingInvite(
    invitees: string[],
    callID: string,
    config: CallingInviteConfig,
  ): Promise<CallingInvitationSentResult> {
    return this.loggedInClient().callingInvite(invitees, callID, config);
  }

  callJoin(callID: string, config: CallJoinConfig): Promise<CallJoinSentResult> {
    return this.loggedInClient().callJoin(callID, config);
  }

  callQuit(callID: string, config: CallQuitConfig): Promise<CallQuitSentResult> {
    return this.loggedInClient().callQuit(callID, config);
  }

  callEnd(callID: string, config: CallEndConfig): Promise<CallEndSentResult> {
    return this.loggedInClient().callEnd(callID, config);
  }

  queryCallInvitationList(
    config: CallInvitationQueryConfig,
  ): Promise<CallInvitationListQueriedResult> {
    return this.loggedInClient().queryCallInvitationList(config);
  }

  /** A Beckon addition (ZIM has no such method): the call's per-device delivery timeline. */
  callTimeline(callID: string): Promise<CallTimelineResult> {
    return this.loggedInClient().callTimeline(callID);
  }

  /** Before the first login there is no client yet: a stand-in that refuses like one. */
  private loggedInClient(): Pick<
    BeckonClient,
    | "callInvite"
    | "callCancel"
    | "callAccept"
    | "callReject"
    | "callingInvite"
    | "callJoin"
    | "callQuit"
    | "callEnd"
    | "queryCallInvitationList"
    | "callTimeline"
  > {
    return this.client ?? notLoggedInClient;
  }

  private connectToRegisteredServer(): BeckonClient | BeckonError {
    const server = serverFor(this.appID);
    if (server === undefined) {
      return invalidParams(
        "no Beckon server is known: call ZIM.setServer(url) at start-up, pass { appID, server } to ZIM.create, or set BECKON_SERVER_URL",
      );
    }
    try {
      this.client = this.connectTo(checkServerURL(server, "the registered server"));
      return this.client;
    } catch (error) {
      return error instanceof BeckonError ? error : invalidParams(String(error));
    }
  }

  private connectTo(url: string): BeckonClient {
    const client = new BeckonClient({ ...this.options, url });
    for (const name of beckonEventNames) {
      client.on(name, (_client, data) => this.relay(name, data, client));
    }
    return client;
  }

  private relay<K extends BeckonEventName>(
    name: K,
    data: BeckonEventMap[K],
    client: BeckonClient,
  ): void {
    // Every Beckon event is a ZIM event of the same name and data.
    this.listeners.emit(name, data as ZIMEventMap[K]);
    const self = client.userID;
    if (!isCallEvent(name) || self === null) return;
    for (const event of this.legacy.derive(name, data as CallEventMap[typeof name], self)) {
      this.listeners.emit(event.name, event.data);
    }
  }
}

installUnsupportedMethods(ZIM.prototype);

/** The hook's Beckon token for the kit's; a hook that fails or returns no token rejects. */
async function mapToken(
  hook: ZIMTokenHook,
  tokenFromKit: unknown,
  userInfo: { userID: string; userName?: string },
): Promise<string> {
  let mapped: unknown;
  try {
    mapped = await hook(typeof tokenFromKit === "string" ? tokenFromKit : "", userInfo);
  } catch (error) {
    if (error instanceof BeckonError) throw error;
    throw new BeckonError(
      ErrorCode.TokenInvalid,
      `the token hook failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof mapped !== "string" || mapped === "") {
    throw new BeckonError(ErrorCode.TokenInvalid, "the token hook returned no token");
  }
  return mapped;
}

const refuse = () => Promise.reject(notLoggedIn());

const notLoggedInClient = {
  callInvite: refuse,
  callCancel: refuse,
  callAccept: refuse,
  callReject: refuse,
  callingInvite: refuse,
  callJoin: refuse,
  callQuit: refuse,
  callEnd: refuse,
  queryCallInvitationList: refuse,
  callTimeline: refuse,
};
