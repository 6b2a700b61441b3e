// The calls this device still shows as ringing or running, followed from its own events. After a
// reconnect that cannot resume, the server closes the ones that ended meanwhile. It also tells
// which events are news: a resync's picture restates calls the device already shows, and after a
// Redis failure a state may reach the device twice; neither is shown to the app again.
import {
  type CallEventMap,
  type CallEventName,
  CallInvitationMode,
  type CallUserInfo,
  isActive,
  isPending,
} from "@beckon/protocol";

/** The server accepts at most this many; the most recent ones matter most. */
const MAX_OPEN_CALLS = 100;
/** Calls over for this device whose last states are kept, to know a repeat of them. */
const MAX_CLOSED_CALLS = 200;

interface OpenCall {
  mode: CallInvitationMode;
  states: Map<string, number>;
  /** Each member's state and extendedData as last told: a repeat of them is no news. */
  told: Map<string, string>;
}

function toldOf(user: CallUserInfo): string {
  return `${user.state}:${user.extendedData}`;
}

export class OpenCalls {
  private readonly calls = new Map<string, OpenCall>();
  /** Calls closed for this device, newest last, with what each member was last told as. */
  private readonly closed = new Map<string, Map<string, string>>();

  ids(): string[] {
    return [...this.calls.keys()];
  }

  clear(): void {
    this.calls.clear();
    this.closed.clear();
  }

  private close(callID: string, told: Map<string, string> = new Map()): void {
    this.calls.delete(callID);
    this.closed.delete(callID);
    this.closed.set(callID, told);
    if (this.closed.size > MAX_CLOSED_CALLS) {
      const oldest = this.closed.keys().next().value;
      if (oldest !== undefined) this.closed.delete(oldest);
    }
  }

  /** A call this device joined or was told of in a reply rather than an event. */
  open(callID: string, mode: CallInvitationMode, users: readonly CallUserInfo[]): void {
    this.calls.delete(callID);
    this.closed.delete(callID);
    this.calls.set(callID, {
      mode,
      states: new Map(users.map((u) => [u.userID, u.state])),
      told: new Map(users.map((u) => [u.userID, toldOf(u)])),
    });
    if (this.calls.size > MAX_OPEN_CALLS) {
      const oldest = this.calls.keys().next().value;
      if (oldest !== undefined) this.calls.delete(oldest);
    }
  }

  /**
   * Follows the event; returns whether it is news to this device: not an invitation to a call
   * it already shows, a second close of a call, or a state change that changes nothing.
   */
  observe<K extends CallEventName>(name: K, data: CallEventMap[K], ownUserID: string): boolean {
    const event = { name, data } as {
      [N in CallEventName]: { name: N; data: CallEventMap[N] };
    }[CallEventName];
    const { callID } = event.data;
    switch (event.name) {
      case "callInvitationCreated":
      case "callInvitationReceived": {
        const known = this.calls.get(callID);
        const news = !known;
        this.open(callID, event.data.mode, event.data.callUserList);
        return news;
      }
      case "callInvitationCancelled":
      case "callInvitationTimeout":
      case "callInvitationEnded": {
        const news = !this.closed.has(callID);
        this.close(callID, this.calls.get(callID)?.told);
        return news;
      }
      case "callUserStateChanged": {
        const call = this.calls.get(callID);
        if (!call) {
          const last = this.closed.get(callID);
          return !last || event.data.callUserList.some((u) => last.get(u.userID) !== toldOf(u));
        }
        let news = false;
        for (const user of event.data.callUserList) {
          if (call.told.get(user.userID) !== toldOf(user)) news = true;
          call.states.set(user.userID, user.state);
          call.told.set(user.userID, toldOf(user));
        }
        const own = call.states.get(ownUserID);
        const states = [...call.states.values()];
        const over =
          own === undefined ||
          !isActive(own) ||
          (call.mode === CallInvitationMode.General && !states.some(isPending));
        if (over) this.close(callID, call.told);
        return news;
      }
    }
  }
}
