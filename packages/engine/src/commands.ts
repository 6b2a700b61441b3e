// What can happen to a call: the users' operations, the server's observations and timer fires.
import type { CallInvitationMode, PushConfig } from "@beckon/protocol";

/** Who did it: a user acting from one of their devices. */
export interface Actor {
  userID: string;
  deviceID: string;
}

/**
 * Only the identity of a device: the objects it is taken from may carry much more (a socket, a
 * session), and commands and facts are stored.
 */
export function actorOf(device: Actor): Actor {
  return { userID: device.userID, deviceID: device.deviceID };
}

export interface InviteCommand {
  type: "invite";
  actor: Actor;
  /** Server-generated, unguessable. */
  callID: string;
  invitees: readonly string[];
  timeout?: number;
  mode?: CallInvitationMode;
  extendedData?: string;
  enableNotReceivedCheck?: boolean;
  pushConfig?: PushConfig;
  /** The invitees the server knows (logged in once or registered); the rest are errors. */
  knownUsers: ReadonlySet<string>;
  /** Whether the caller is Accepted in another Started call (the busy rule). */
  callerBusy: boolean;
}

export type CallCommand =
  | {
      type: "cancel";
      actor: Actor;
      invitees: readonly string[];
      extendedData?: string;
      pushConfig?: PushConfig;
    }
  | { type: "accept"; actor: Actor; extendedData?: string }
  | { type: "reject"; actor: Actor; extendedData?: string }
  /** A device of an invitee got the invitation (the SDK's automatic acknowledgement). */
  | { type: "receipt"; actor: Actor }
  /** A device's socket closed or went silent. */
  | { type: "deviceLost"; actor: Actor }
  /** A device logged in again (same deviceID). */
  | { type: "deviceBack"; actor: Actor }
  /** The user logged out on this device. */
  | { type: "logout"; actor: Actor }
  /** The user's last connected device went away; an Accepted member's grace period starts. */
  | { type: "memberAway"; userID: string }
  /** A device of the user is connected again. */
  | { type: "memberBack"; userID: string }
  | { type: "timer"; timer: TimerKind; userID: string }
  /** Advanced mode (SPEC §3): an Accepted member invites more users. */
  | {
      type: "callingInvite";
      actor: Actor;
      invitees: readonly string[];
      pushConfig?: PushConfig;
      knownUsers: ReadonlySet<string>;
    }
  | { type: "join"; actor: Actor; extendedData?: string }
  | { type: "quit"; actor: Actor; extendedData?: string; pushConfig?: PushConfig }
  | { type: "end"; actor: Actor; extendedData?: string; pushConfig?: PushConfig };

export type TimerKind = "deadline" | "notReceived" | "callerLost" | "vanished";

export interface Timer {
  kind: TimerKind;
  userID: string;
  /** Epoch ms. */
  at: number;
}
