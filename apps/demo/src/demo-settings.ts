// The page's settings: where the server is, timings and page sizes (some can be tried from the
// URL, `?noticeSeconds=2&clearSeconds=3&pageSize=3`), and the words for a lost session.
import { ConnectionEvent } from "@beckon/sdk";

const defaultPageSize = 5;
/** How long after signing in a call answered from a notification may take to show up. */
export const pendingAnswerWaitMs = 5_000;
export const gone = "it was answered on another device, cancelled, or it timed out.";
export const maxLoggedEvents = 100;
export const maxNotices = 3;

/** A number of seconds from the URL (`?noticeSeconds=2`), for trying the page's timings. */
function secondsFromURL(name: string, fallback: number): number {
  const asked = Number(new URLSearchParams(location.search).get(name));
  return Number.isFinite(asked) && asked > 0 && asked <= 600 ? asked * 1000 : fallback;
}

/** How long an information notice stays; errors stay twice as long, then close by themselves. */
export const infoNoticeMs = secondsFromURL("noticeSeconds", 6_000);
/** How long a finished call's card stays before it clears itself. */
export const overCardMs = secondsFromURL("clearSeconds", 8_000);

/** The WebSocket endpoint beside the page: the server that served it. */
export function serverURL(): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

/** History page size; `?pageSize=3` makes paging easy to try. */
export function pageSizeFromURL(): number {
  const asked = Number(new URLSearchParams(location.search).get("pageSize"));
  return Number.isInteger(asked) && asked >= 1 && asked <= 100 ? asked : defaultPageSize;
}

export const disconnectReasons: Partial<Record<ConnectionEvent, string>> = {
  [ConnectionEvent.KickedOut]:
    "You were signed out by the server: this user signed in on too many devices, or the " +
    "session was ended.",
  [ConnectionEvent.TokenExpired]: "You were signed out: the token expired or was refused.",
  [ConnectionEvent.LoginTimeout]: "The connection was lost and signing back in timed out.",
  [ConnectionEvent.LoginInterrupted]: "The connection was lost and could not be resumed.",
};

/** What a call's pushes say on a phone or in a browser that is asleep (docs/push.md). */
export function pushConfig(title: string, content = "") {
  return { title, content, payload: "" };
}
