// How the console writes times, durations and the SDK's enums for people.
import { CallInvitationMode, CallState, CallUserState } from "@beckon/protocol";

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** 14:03:07.245 (with the date when not today). */
export function timeOf(epochMs: number): string {
  if (!epochMs) return "—";
  const date = new Date(epochMs);
  const ms = String(date.getMilliseconds()).padStart(3, "0");
  const today = new Date().toDateString() === date.toDateString();
  return `${today ? "" : `${day.format(date)} `}${clock.format(date)}.${ms}`;
}

/** 850 ms, 4.2 s, 3 min 5 s, 2 h 4 min. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function ago(epochMs: number, now = Date.now()): string {
  return `${duration(Math.max(0, now - epochMs))} ago`;
}

/** A latency in ms from the server's histogram (null: nothing observed). */
export function latency(ms: number | null): string {
  if (ms === null) return "—";
  return ms < 10 ? `${ms.toFixed(1)} ms` : duration(ms);
}

const userStates: Record<number, string> = {
  [CallUserState.Inviting]: "Inviting",
  [CallUserState.Accepted]: "Accepted",
  [CallUserState.Rejected]: "Rejected",
  [CallUserState.Cancelled]: "Cancelled",
  [CallUserState.Offline]: "Offline",
  [CallUserState.Received]: "Received",
  [CallUserState.Timeout]: "Timed out",
  [CallUserState.Quit]: "Quit",
  [CallUserState.Ended]: "Ended",
  [CallUserState.NotYetReceived]: "Not yet received",
  [CallUserState.BeCancelled]: "Cancelled (by inviter)",
};

export function userStateName(state: number): string {
  return userStates[state] ?? `State ${state}`;
}

/** good / bad / wait / quiet: the colour family of a member state. */
export function userStateTone(state: number): string {
  if (state === CallUserState.Accepted) return "good";
  if (state === CallUserState.NotYetReceived) return "bad";
  if (state === CallUserState.Inviting || state === CallUserState.Received) return "wait";
  if (state === CallUserState.Rejected || state === CallUserState.Timeout) return "bad";
  return "quiet";
}

export function callStateName(state: number): string {
  return state === CallState.Started ? "Started" : state === CallState.Ended ? "Ended" : "Unknown";
}

export function modeName(mode: number): string {
  return mode === CallInvitationMode.Advanced ? "Advanced" : "General";
}

export function isPendingState(state: number): boolean {
  return (
    state === CallUserState.Inviting ||
    state === CallUserState.Received ||
    state === CallUserState.NotYetReceived
  );
}
