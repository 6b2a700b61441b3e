// A call's delivery timeline as its members see it (`callTimeline`, a Beckon addition): for each
// device of each member, when the server sent it the invitation, when the device acknowledged
// it, each offline push and what the member did from it. Every time is the server's (epoch ms).

export type CallTimelinePushKind = "invite" | "cancel" | "quit" | "end";
/** `queued` until the push provider answered; then `sent` (accepted), `failed` or `expired`. */
export type CallTimelinePushStatus = "queued" | "sent" | "failed" | "expired";
export type CallTimelineAnswerKind =
  | "member.accepted"
  | "member.rejected"
  | "member.joined"
  | "member.quit";

export interface CallTimelinePush {
  kind: CallTimelinePushKind;
  status: CallTimelinePushStatus;
  /** `webpush`, `fcm`, `apns` or `http`. */
  provider: string;
  queuedAt: number;
  /** When the provider answered; 0 while queued. */
  doneAt: number;
}

export interface CallTimelineAnswer {
  kind: CallTimelineAnswerKind;
  at: number;
}

export interface CallTimelineDevice {
  userID: string;
  deviceID: string;
  /** When the server first put the invitation on this device's event stream. */
  sentAt?: number;
  /** When the device acknowledged the invitation (the SDK's automatic receipt), first time. */
  receivedAt?: number;
  pushes: CallTimelinePush[];
  /** What the member did from this device, in order. */
  answers: CallTimelineAnswer[];
}

export interface CallTimelineEntry {
  at: number;
  /**
   * A fact (`call.created`, `member.invited`, `member.received`, `member.accepted`, …,
   * `call.ended`), `invitation.sent` / `invitation.received` (to / from the device named: every
   * device's receipt, where `member.received` is only the member's first) or
   * `push.queued|sent|failed|expired`.
   */
  kind: string;
  userID?: string;
  /** The device that acted, was sent the invitation or was pushed. */
  deviceID?: string;
}

export interface CallTimelineRequest {
  callID: string;
}

export interface CallTimelineResult {
  callID: string;
  devices: CallTimelineDevice[];
  /** Everything above and the call's other facts, in time order. */
  entries: CallTimelineEntry[];
}
