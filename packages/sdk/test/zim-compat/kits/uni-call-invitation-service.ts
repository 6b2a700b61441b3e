// A call-invitation service shaped like the uni-app / mini-program call kits ZEGO ships for ZIM,
// written for older ZIM SDKs: enums read as statics of the class, `ZIM.create(appID)`, the
// deprecated `login(userInfo, token)`, `errorInvitees`. Only its import differs from the original:
//   was: import { ZIM } from "../libs/zego-zim-miniprogram/index.js";
import { ZIM } from "@beckon/sdk";

/** What the kit tells its pages (the kit's own vocabulary, not ZIM's). */
export type KitNotice =
  | { type: "connected" }
  | { type: "incoming"; callID: string; inviter: string; callType: number; timeout: number }
  | { type: "autoRejected"; callID: string; inviter: string }
  | { type: "incomingCancelled"; callID: string; inviter: string }
  | { type: "incomingTimeout"; callID: string }
  | { type: "outgoingAccepted"; callID: string; invitee: string }
  | { type: "outgoingRejected"; callID: string; invitee: string; reason: string }
  | { type: "outgoingTimeout"; callID: string; invitee: string }
  | { type: "outgoingDone"; callID: string };

interface CurrentCall {
  callID: string;
  role: "caller" | "callee";
  /** Invitees still ringing (caller side). */
  ringing: Set<string>;
  talking: boolean;
}

export class CallInvitationService {
  private zim: ZIM | null = null;
  private userID = "";
  private current: CurrentCall | null = null;

  constructor(private readonly notify: (notice: KitNotice) => void) {}

  /** The kit's start-up, unchanged: the app never tells it where a server is. */
  init(appID: number): void {
    if (!ZIM.getInstance()) ZIM.create(appID);
    this.zim = ZIM.getInstance();
    const zim = this.zim;
    if (!zim) throw new Error("ZIM.create failed");

    zim.on("connectionStateChanged", (_zim, { state }) => {
      if (state === ZIM.ConnectionState.Connected) this.notify({ type: "connected" });
    });

    zim.on("callInvitationReceived", (_zim, { callID, inviter, extendedData, timeout }) => {
      if (this.current) {
        // Already in a call: decline on the user's behalf, as the kits do.
        this.notify({ type: "autoRejected", callID, inviter });
        void zim.callReject(callID, { extendedData: JSON.stringify({ reason: "busy" }) });
        return;
      }
      this.current = { callID, role: "callee", ringing: new Set(), talking: false };
      const { type } = JSON.parse(extendedData || "{}") as { type?: number };
      this.notify({ type: "incoming", callID, inviter, callType: type ?? 0, timeout });
    });

    zim.on("callInvitationCancelled", (_zim, { callID, inviter }) => {
      if (this.current?.callID !== callID) return;
      this.current = null;
      this.notify({ type: "incomingCancelled", callID, inviter });
    });

    zim.on("callInvitationTimeout", (_zim, { callID }) => {
      if (this.current?.callID !== callID) return;
      this.current = null;
      this.notify({ type: "incomingTimeout", callID });
    });

    zim.on("callUserStateChanged", (_zim, { callID, callUserList }) => {
      const call = this.current;
      if (call?.callID !== callID || call.role !== "caller") return;
      for (const { userID, state, extendedData } of callUserList) {
        if (!call.ringing.has(userID)) continue;
        if (state === ZIM.CallUserState.Accepted) {
          call.ringing.delete(userID);
          call.talking = true;
          this.notify({ type: "outgoingAccepted", callID, invitee: userID });
        } else if (state === ZIM.CallUserState.Rejected) {
          call.ringing.delete(userID);
          const { reason } = JSON.parse(extendedData || "{}") as { reason?: string };
          this.notify({ type: "outgoingRejected", callID, invitee: userID, reason: reason ?? "" });
        } else if (state === ZIM.CallUserState.Timeout) {
          call.ringing.delete(userID);
          this.notify({ type: "outgoingTimeout", callID, invitee: userID });
        }
      }
      if (call.ringing.size === 0) {
        if (!call.talking) this.current = null;
        this.notify({ type: "outgoingDone", callID });
      }
    });
  }

  login(userID: string, userName: string, token: string): Promise<void> {
    this.userID = userID;
    return this.instance().login({ userID, userName }, token);
  }

  logout(): Promise<void> {
    this.current = null;
    return this.instance().logout();
  }

  /** Rings `invitees`; returns the callID and who could not be invited. */
  async call(invitees: string[], callType: number, timeout: number) {
    const { callID, errorInvitees } = await this.instance().callInvite(invitees, {
      mode: ZIM.CallInvitationMode.General,
      timeout,
      extendedData: JSON.stringify({ type: callType, inviterName: this.userID }),
    });
    const failed = errorInvitees.map((invitee) => invitee.userID);
    const ringing = new Set(invitees.filter((userID) => !failed.includes(userID)));
    this.current = { callID, role: "caller", ringing, talking: false };
    return { callID, failed };
  }

  async cancel(): Promise<void> {
    const call = this.current;
    if (call?.role !== "caller") return;
    this.current = null;
    await this.instance().callCancel([...call.ringing], call.callID, { extendedData: "" });
  }

  async accept(): Promise<void> {
    const call = this.current;
    if (call?.role !== "callee") return;
    await this.instance().callAccept(call.callID, { extendedData: "" });
    call.talking = true;
  }

  async decline(reason: string): Promise<void> {
    const call = this.current;
    if (call?.role !== "callee") return;
    this.current = null;
    await this.instance().callReject(call.callID, { extendedData: JSON.stringify({ reason }) });
  }

  /** The media call is over (the kit's RTC part); the service is free again. */
  hangUp(): void {
    this.current = null;
  }

  destroy(): Promise<void> {
    return this.instance().destroy();
  }

  private instance(): ZIM {
    if (!this.zim) throw new Error("call init() first");
    return this.zim;
  }
}
