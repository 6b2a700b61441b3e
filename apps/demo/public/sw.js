// @ts-check
// The demo's service worker: turns Beckon's Web Push messages (docs/push.md "The payload") into
// system notifications while no tab of the demo is in view, and hands an Accept or Decline on
// one to a tab of the demo, opening one when there is none. Checked by apps/demo/tsconfig.sw.json.
/// <reference lib="webworker" />

const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/**
 * @typedef {{ kind: "invite" | "cancel" | "quit" | "end"; callID: string; caller: string;
 *   operatedUserID: string; deadline: number; title: string; content: string }} BeckonPush
 * @typedef {"accept" | "decline"} Answer
 * @typedef {{ callID: string; caller: string; missed: boolean }} ShownCall
 */

worker.addEventListener("install", () => void worker.skipWaiting());
worker.addEventListener("activate", (event) => event.waitUntil(worker.clients.claim()));

/**
 * The push's JSON, or null when it is not a Beckon push.
 * @param {PushMessageData | null} data
 * @returns {BeckonPush | null}
 */
function beckonPush(data) {
  try {
    const value = data?.json();
    return typeof value?.callID === "string" && typeof value.kind === "string" ? value : null;
  } catch {
    return null;
  }
}

/**
 * Whether a tab of the demo is on screen. A push means no device of the user was online, so such
 * a tab is reconnecting or waits for a sign-in, and then rings by itself.
 */
async function aTabIsVisible() {
  const tabs = await worker.clients.matchAll({ type: "window", includeUncontrolled: true });
  return tabs.some((tab) => tab.visibilityState === "visible");
}

/** @param {BeckonPush} push */
async function showCall(push) {
  const caller = push.caller || push.operatedUserID;
  // The phone was asleep past the deadline: nothing to answer any more.
  const missed = push.deadline > 0 && push.deadline <= Date.now();
  /** @type {ShownCall} */
  const data = { callID: push.callID, caller, missed };
  if (missed) {
    await worker.registration.showNotification(`Missed call from ${caller}`, {
      tag: push.callID,
      body: "Beckon demo",
      data,
    });
    return;
  }
  if (await aTabIsVisible()) return;
  /** @type {NotificationOptions & { actions: Array<{ action: Answer; title: string }>; requireInteraction: boolean }} */
  const options = {
    tag: push.callID,
    body: push.content || "Beckon demo",
    requireInteraction: true,
    actions: [
      { action: "accept", title: "Accept" },
      { action: "decline", title: "Decline" },
    ],
    data,
  };
  await worker.registration.showNotification(`${caller} is calling`, options);
}

/** A cancel, quit or end: the call no longer rings. @param {BeckonPush} push */
async function closeCall(push) {
  const shown = await worker.registration.getNotifications({ tag: push.callID });
  for (const notification of shown) notification.close();
}

worker.addEventListener("push", (event) => {
  const push = beckonPush(event.data);
  if (!push) return;
  event.waitUntil(push.kind === "invite" ? showCall(push) : closeCall(push));
});

/**
 * The page a click opens when no tab of the demo is open: it answers after signing in.
 * @param {string} callID
 * @param {Answer | null} answer
 */
function answerURL(callID, answer) {
  const url = new URL("./", worker.registration.scope);
  url.searchParams.set("call", callID);
  if (answer) url.searchParams.set("answer", answer);
  return url.href;
}

/**
 * @param {Notification} notification
 * @param {string} action
 */
async function answerFromNotification(notification, action) {
  notification.close();
  const shown = /** @type {ShownCall} */ (notification.data);
  /** @type {Answer | null} */
  const answer = shown.missed ? null : action === "accept" || action === "decline" ? action : null;
  const tabs = await worker.clients.matchAll({ type: "window", includeUncontrolled: true });
  const tab = tabs.find((client) => client.focused) ?? tabs[0];
  if (!tab) {
    await worker.clients.openWindow(answerURL(shown.callID, answer));
    return;
  }
  tab.postMessage({ type: "beckon-answer", callID: shown.callID, caller: shown.caller, answer });
  await tab.focus().catch(() => undefined);
}

worker.addEventListener("notificationclick", (event) => {
  const done = answerFromNotification(event.notification, event.action);
  // Only a click the browser dispatched may extend the event (and open or focus a window).
  if (event.isTrusted) event.waitUntil(done);
});
