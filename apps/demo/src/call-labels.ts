// Words and colours for the SDK's enums, and the voice/video label the demo carries in a call's
// extendedData (`{"type":"video"}`, as in the README), so every view names things the same way.
import { CallInvitationMode, CallUserState, ConnectionState } from "@beckon/sdk";

export type Tone = "neutral" | "waiting" | "good" | "bad" | "muted";

interface StateLook {
  label: string;
  tone: Tone;
}

const userStates: Record<CallUserState, StateLook> = {
  [CallUserState.Unknown]: { label: "Unknown", tone: "muted" },
  [CallUserState.Inviting]: { label: "Inviting", tone: "waiting" },
  [CallUserState.Accepted]: { label: "Accepted", tone: "good" },
  [CallUserState.Rejected]: { label: "Rejected", tone: "bad" },
  [CallUserState.Cancelled]: { label: "Cancelled", tone: "muted" },
  [CallUserState.Offline]: { label: "Offline", tone: "muted" },
  [CallUserState.Received]: { label: "Received", tone: "waiting" },
  [CallUserState.Timeout]: { label: "Timed out", tone: "bad" },
  [CallUserState.Quit]: { label: "Quit", tone: "muted" },
  [CallUserState.Ended]: { label: "Ended", tone: "muted" },
  [CallUserState.NotYetReceived]: { label: "Not yet received", tone: "bad" },
  [CallUserState.BeCancelled]: { label: "Cancelled (withdrawn)", tone: "muted" },
};

/** How a member's state reads on screen ("Received", "Timed out", …). */
export function userStateLook(state: CallUserState): StateLook {
  return userStates[state] ?? { label: `State ${state}`, tone: "muted" };
}

const pendingStates = new Set([
  CallUserState.Inviting,
  CallUserState.Received,
  CallUserState.NotYetReceived,
]);

/**
 * How a member reads on screen, the same in a call card and in the history. The server counts
 * the caller as Accepted from the start; to a person a caller whose call still rings is
 * "Calling", and one nobody answered is just the caller.
 */
export function memberLook(
  member: { userID: string; state: CallUserState },
  caller: string,
  members: Iterable<{ userID: string; state: CallUserState }>,
  /** false for a call that is over: nothing rings any more, whatever states were stored last. */
  going = true,
): StateLook {
  if (member.userID === caller && member.state === CallUserState.Accepted) {
    const others = [...members].filter((other) => other.userID !== caller);
    if (!others.some((other) => other.state === CallUserState.Accepted)) {
      return going && others.some((other) => pendingStates.has(other.state))
        ? { label: "Calling", tone: "waiting" }
        : { label: "Caller", tone: "muted" };
    }
  }
  return userStateLook(member.state);
}

/** The enum member's name, for stable `data-state` attributes tests and CSS can rely on. */
export function userStateName(state: CallUserState): string {
  return CallUserState[state] ?? String(state);
}

export function modeLabel(mode: CallInvitationMode): string {
  if (mode === CallInvitationMode.Advanced) return "Advanced";
  if (mode === CallInvitationMode.General) return "General";
  return "Unknown mode";
}

export function connectionLabel(state: ConnectionState): string {
  switch (state) {
    case ConnectionState.Connected:
      return "Connected";
    case ConnectionState.Connecting:
      return "Connecting…";
    case ConnectionState.Reconnecting:
      return "Reconnecting…";
    default:
      return "Disconnected";
  }
}

export type MediaKind = "voice" | "video";

/** What the demo puts in a call's extendedData. */
export function callExtendedData(media: MediaKind): string {
  return JSON.stringify({ type: media });
}

/** Reads the voice/video label back; other apps' extendedData is shown as "Call". */
export function mediaOf(extendedData: string): MediaKind | null {
  try {
    const parsed: unknown = JSON.parse(extendedData);
    const type = (parsed as { type?: unknown } | null)?.type;
    return type === "voice" || type === "video" ? type : null;
  } catch {
    return null;
  }
}

export function mediaLabel(extendedData: string): string {
  const media = mediaOf(extendedData);
  if (media === "video") return "Video call";
  if (media === "voice") return "Voice call";
  return "Call";
}

/** Splits "bob, carol dave" into distinct user IDs, in the order typed. */
export function parseUserList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((part) => part !== ""))];
}
