// A signaling plugin shaped like the React Native one in ZEGO's UIKit, written for newer ZIM SDKs:
// the app hands it ZIM's module and it calls `module.default.getInstance()`, imports the enums at
// top level, and is itself typed with ZIM's own declarations (`zego-zim-web`), as a UI kit that
// takes the ZIM class as a plugin parameter is. Only the module it imports values from differs:
//   was: import { ZIMCallInvitationMode, … } from "zego-zim-react-native";
//   was: import type * as ZIMModule from "zego-zim-react-native";
import type * as ZIMModule from "@beckon/sdk";
import {
  ZIMCallInvitationMode,
  ZIMCallUserState,
  type ZIMConnectionState,
  ZIMConversationType,
  type ZIMError,
  ZIMErrorCode,
} from "@beckon/sdk";
import type {
  ZIMCallInvitationSentResult,
  ZIMCallUserInfo,
  ZIM as ZIMDeclared,
  ZIMEventOfCallInvitationCancelledResult,
  ZIMEventOfCallInvitationReceivedResult,
  ZIMEventOfCallInvitationTimeoutResult,
} from "zego-zim-web";

/** The call-invitation API this plugin drives, as ZIM declares it. */
export type ZIMCallSignaling = Pick<
  ZIMDeclared,
  | "callInvite"
  | "callCancel"
  | "callAccept"
  | "callReject"
  | "callingInvite"
  | "callJoin"
  | "callQuit"
  | "callEnd"
  | "queryCallInvitationList"
  | "renewToken"
>;

/** What the plugin reports to the UIKit (its own vocabulary). */
export type PluginNotice =
  | { type: "connection"; state: ZIMConnectionState }
  | { type: "invitationReceived"; callID: string; inviter: string; data: string }
  | { type: "invitationCancelled"; callID: string; inviter: string }
  | { type: "invitationTimeout"; callID: string }
  | { type: "invitationAccepted"; callID: string; invitee: string; data: string }
  | { type: "invitationRejected"; callID: string; invitee: string; data: string }
  | { type: "inviteesAnsweredTimeout"; callID: string; invitees: string[] }
  /** The local user's own state in a call, which newer kits follow to close their call UI. */
  | { type: "ownState"; callID: string; state: ZIMCallUserState }
  | { type: "tokenRenewed" };

const listenedEvents = [
  "error",
  "connectionStateChanged",
  "callInvitationReceived",
  "callInvitationCancelled",
  "callInvitationAccepted",
  "callInvitationRejected",
  "callInvitationTimeout",
  "callInviteesAnsweredTimeout",
  "callUserStateChanged",
  "tokenWillExpire",
] as const;

export class SignalingPlugin {
  /** The conversation type the plugin's in-room commands would use (IM, unsupported by Beckon). */
  static readonly commandConversation = ZIMConversationType.Peer;
  private userID = "";

  constructor(
    private readonly plugin: typeof ZIMModule,
    private readonly notify: (notice: PluginNotice) => void,
    private readonly requireNewToken: () => Promise<string> = async () => "",
  ) {}

  getVersion(): string {
    return this.plugin.default.getVersion();
  }

  create(appID: number, appSign: string): void {
    this.plugin.default.setAdvancedConfig("zim_voip_call_id_mode", "1");
    if (!this.plugin.default.getInstance()) this.plugin.default.create({ appID, appSign });
    this.unregister();
    this.register();
  }

  async login(userInfo: { userID: string; userName: string }, token: string): Promise<void> {
    try {
      await this.zim().login(userInfo, token);
    } catch (error) {
      // ZIM refuses a second login on one device; the plugin treats it as logged in.
      if ((error as ZIMError).code !== ZIMErrorCode.NetworkModuleUserHasAlreadyLogged) throw error;
    }
    this.userID = userInfo.userID;
  }

  async logout(): Promise<void> {
    await this.zim().logout();
  }

  destroy(): void {
    this.unregister();
    this.zim().destroy();
  }

  async invite(
    invitees: string[],
    timeout: number,
    data: string,
  ): Promise<{ callID: string; errorInvitees: string[] }> {
    const result: ZIMCallInvitationSentResult = await this.signaling().callInvite(invitees, {
      mode: ZIMCallInvitationMode.General,
      timeout,
      extendedData: data,
    });
    return { callID: result.callID, errorInvitees: result.errorUserList.map((e) => e.userID) };
  }

  async cancel(invitees: string[], callID: string): Promise<string[]> {
    const { errorInvitees } = await this.signaling().callCancel(invitees, callID, {
      extendedData: "",
    });
    return errorInvitees;
  }

  async accept(callID: string, data = ""): Promise<void> {
    await this.signaling().callAccept(callID, { extendedData: data });
  }

  async refuse(callID: string, data = ""): Promise<void> {
    await this.signaling().callReject(callID, { extendedData: data });
  }

  async history(): Promise<ZIMCallUserInfo[][]> {
    const { callList } = await this.signaling().queryCallInvitationList({ count: 500 });
    return callList.map((call) => call.callUserList);
  }

  /** In-room commands go through ZIM's messaging, which Beckon does not offer. */
  sendCommand(roomID: string, command: string): Promise<unknown> {
    return this.zim().sendMessage(
      { type: 2, message: command },
      roomID,
      SignalingPlugin.commandConversation,
      {},
    );
  }

  private zim() {
    const zim = this.plugin.default.getInstance();
    if (!zim) throw new Error("create() first");
    return zim;
  }

  /** The instance as the plugin's ZIM-typed call API. */
  private signaling(): ZIMCallSignaling {
    return this.zim();
  }

  private register(): void {
    const zim = this.zim();
    zim.on("error", (_zim, error) => {
      this.notify({ type: "connection", state: zim.connectionState });
      void error.message;
    });
    zim.on("connectionStateChanged", (_zim, { state }) => {
      this.notify({ type: "connection", state });
    });
    // Listeners typed with ZIM's own result types receive Beckon's events as they are.
    zim.on(
      "callInvitationReceived",
      (_zim, { callID, inviter, extendedData }: ZIMEventOfCallInvitationReceivedResult) => {
        this.notify({ type: "invitationReceived", callID, inviter, data: extendedData });
      },
    );
    zim.on(
      "callInvitationCancelled",
      (_zim, { callID, inviter }: ZIMEventOfCallInvitationCancelledResult) => {
        this.notify({ type: "invitationCancelled", callID, inviter });
      },
    );
    zim.on("callInvitationTimeout", (_zim, { callID }: ZIMEventOfCallInvitationTimeoutResult) => {
      this.notify({ type: "invitationTimeout", callID });
    });
    zim.on("callInvitationAccepted", (_zim, { callID, invitee, extendedData }) => {
      this.notify({ type: "invitationAccepted", callID, invitee, data: extendedData });
    });
    zim.on("callInvitationRejected", (_zim, { callID, invitee, extendedData }) => {
      this.notify({ type: "invitationRejected", callID, invitee, data: extendedData });
    });
    zim.on("callInviteesAnsweredTimeout", (_zim, { callID, invitees }) => {
      this.notify({ type: "inviteesAnsweredTimeout", callID, invitees });
    });
    zim.on("callUserStateChanged", (_zim, info) => {
      const own = info.callUserList.find((user) => user.userID === this.userID);
      if (own && own.state !== ZIMCallUserState.Received) {
        this.notify({ type: "ownState", callID: info.callID, state: own.state });
      }
    });
    zim.on("tokenWillExpire", async () => {
      const token = await this.requireNewToken();
      if (!token) return;
      await this.signaling().renewToken(token);
      this.notify({ type: "tokenRenewed" });
    });
  }

  private unregister(): void {
    const zim = this.plugin.default.getInstance();
    for (const name of listenedEvents) zim?.off(name);
  }
}
