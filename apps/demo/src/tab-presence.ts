// Which users are signed in in *other tabs of this browser*, told over a BroadcastChannel. It is
// the only "online" the demo can honestly show: the server has no presence API for apps.

const channelName = "beckon-demo/tabs";
const announceEveryMs = 10_000;
const forgetAfterMs = 25_000;

type PresenceMessage =
  | { type: "here"; tabID: string; userID: string }
  | { type: "gone"; tabID: string }
  | { type: "who" };

export class TabPresence {
  // getRandomValues, not randomUUID: a phone on plain http over the LAN is no secure context.
  private readonly tabID = Array.from(crypto.getRandomValues(new Uint32Array(4)), String).join("-");
  private readonly channel: BroadcastChannel | null =
    typeof BroadcastChannel === "function" ? new BroadcastChannel(channelName) : null;
  private readonly others = new Map<string, { userID: string; seenAt: number }>();
  private userID: string | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly onPageHide = () => this.post({ type: "gone", tabID: this.tabID });

  constructor(private readonly onChange: () => void) {
    this.channel?.addEventListener("message", (event: MessageEvent<PresenceMessage>) =>
      this.receive(event.data),
    );
    window.addEventListener("pagehide", this.onPageHide);
    this.timer = setInterval(() => {
      this.announce();
      this.expire();
    }, announceEveryMs);
    this.post({ type: "who" });
  }

  /** Tells the other tabs who is signed in here (null: nobody). */
  setUser(userID: string | null): void {
    this.userID = userID;
    if (userID === null) this.post({ type: "gone", tabID: this.tabID });
    else this.announce();
  }

  /** User IDs signed in in other tabs of this browser. */
  usersInOtherTabs(): Set<string> {
    return new Set([...this.others.values()].map((entry) => entry.userID));
  }

  dispose(): void {
    clearInterval(this.timer);
    window.removeEventListener("pagehide", this.onPageHide);
    this.onPageHide();
    this.channel?.close();
  }

  private announce(): void {
    if (this.userID !== null) this.post({ type: "here", tabID: this.tabID, userID: this.userID });
  }

  private post(message: PresenceMessage): void {
    this.channel?.postMessage(message);
  }

  private receive(message: PresenceMessage): void {
    if (message.type === "who") {
      this.announce();
      return;
    }
    if (message.type === "here") {
      const known = this.others.get(message.tabID);
      this.others.set(message.tabID, { userID: message.userID, seenAt: Date.now() });
      if (known?.userID !== message.userID) this.onChange();
      return;
    }
    if (this.others.delete(message.tabID)) this.onChange();
  }

  private expire(): void {
    const cutoff = Date.now() - forgetAfterMs;
    let changed = false;
    for (const [tabID, entry] of this.others) {
      if (entry.seenAt < cutoff) changed = this.others.delete(tabID) || changed;
    }
    if (changed) this.onChange();
  }
}
