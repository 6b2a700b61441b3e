// The calls this device still shows as ringing or running, followed from its own events. After a
// reconnect that cannot resume, the server closes the ones that ended meanwhile.
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

interface OpenCall {
  mode: CallInvitationMode;
  states: Map<string, number>;
}

export class OpenCalls {
  private readonly calls = new Map<string, OpenCall>();

  ids(): string[] {
    return [...this.calls.keys()];
  }

  clear(): void {
    this.calls.clear();
  }

  /** A call this device joined or was told of in a reply rather than an event. */
  open(callID: string, mode: CallInvitationMode, users: readonly CallUserInfo[]): void {
    this.calls.delete(callID);
    this.calls.set(callID, { mode, states: new Map(users.map((u) => [u.userID, u.state])) });
    if (this.calls.size > MAX_OPEN_CALLS) {
      const oldest = this.calls.keys().next().value;
      if (oldest !== undefined) this.calls.delete(oldest);
    }
  }

  observe<K extends CallEventName>(name: K, data: CallEventMap[K], ownUserID: string): void {
    const event = { name, data } as {
      [N in CallEventName]: { name: N; data: CallEventMap[N] };
    }[CallEventName];
    switch (event.name) {
      case "callInvitationCreated":
      case "callInvitationReceived":
        this.open(event.data.callID, event.data.mode, event.data.callUserList);
        return;
      case "callInvitationCancelled":
      case "callInvitationTimeout":
      case "callInvitationEnded":
        this.calls.delete(event.data.callID);
        return;
      case "callUserStateChanged": {
        const call = this.calls.get(event.data.callID);
        if (!call) return;
        for (const user of event.data.callUserList) call.states.set(user.userID, user.state);
        const own = call.states.get(ownUserID);
        const states = [...call.states.values()];
        const over =
          own === undefined ||
          !isActive(own) ||
          (call.mode === CallInvitationMode.General && !states.some(isPending));
        if (over) this.calls.delete(event.data.callID);
        return;
      }
    }
  }
}
