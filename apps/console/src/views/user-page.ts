// A user's page: their devices (online on which node and since when, or away since when; the
// platform their push registrations tell; the registrations) and their recent calls.
import { api, type UserCalls, type UserDevices } from "../api-client.js";
import { h, replaceChildren } from "../element-builder.js";
import { ago, callStateName, modeName, timeOf, userStateName } from "../format.js";
import type { PageContext } from "../page.js";
import { memberChips } from "./member-chips.js";

const th = (text: string) => h("th", { attrs: { scope: "col" } }, text);

function devicesTable(devices: UserDevices, now: number): HTMLElement {
  if (devices.devices.length === 0 && devices.offlineRegistrations.length === 0) {
    return h(
      "p",
      { class: "empty", testid: "no-devices" },
      "No device is logged in, and none is registered for push.",
    );
  }
  return h(
    "div",
    { class: "table-wrap", attrs: { tabindex: "0", role: "region", "aria-label": "Devices" } },
    h(
      "table",
      { class: "table" },
      h(
        "thead",
        null,
        h("tr", null, th("Device"), th("Status"), th("Platform"), th("Push registrations")),
      ),
      h(
        "tbody",
        null,
        devices.devices.map((device) =>
          h(
            "tr",
            { testid: "device", attrs: { "data-device": device.deviceID } },
            h("td", { class: "mono" }, device.deviceID),
            h(
              "td",
              null,
              h(
                "span",
                { class: `badge badge-${device.online ? "good" : "wait"}` },
                device.online ? "Online" : "Away",
              ),
              h(
                "span",
                { class: "sub" },
                device.online
                  ? `on node ${device.nodeID} since ${timeOf(device.loginTime)}`
                  : `since ${timeOf(device.awaySince)} (${ago(device.awaySince, now)}), last on node ${device.nodeID}`,
              ),
            ),
            h("td", null, device.platform),
            h(
              "td",
              null,
              device.pushRegistrations.length === 0
                ? "—"
                : device.pushRegistrations.map((r) =>
                    h(
                      "span",
                      { class: "chip chip-quiet" },
                      `${r.provider} · ${timeOf(r.createdAt)}`,
                    ),
                  ),
            ),
          ),
        ),
        devices.offlineRegistrations.map((registration) =>
          h(
            "tr",
            { testid: "device", attrs: { "data-device": registration.deviceID } },
            h("td", { class: "mono" }, registration.deviceID),
            h(
              "td",
              null,
              h("span", { class: "badge badge-quiet" }, "Not logged in"),
              h("span", { class: "sub" }, "reached by push only"),
            ),
            h("td", null, registration.provider),
            h(
              "td",
              null,
              h(
                "span",
                { class: "chip chip-quiet" },
                `${registration.provider} · ${timeOf(registration.createdAt)}`,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function callsTable(userID: string, calls: UserCalls): HTMLElement {
  if (calls.callList.length === 0) return h("p", { class: "empty" }, "No calls.");
  return h(
    "div",
    { class: "table-wrap", attrs: { tabindex: "0", role: "region", "aria-label": "Recent calls" } },
    h(
      "table",
      { class: "table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          th("Call"),
          th("Created"),
          th("Caller"),
          th(`${userID}'s state`),
          th("Others"),
        ),
      ),
      h(
        "tbody",
        null,
        calls.callList.map((call) => {
          const own = call.callUserList.find((m) => m.userID === userID);
          return h(
            "tr",
            { testid: "user-call" },
            h(
              "td",
              null,
              h(
                "a",
                { class: "mono", attrs: { href: `#/calls/${encodeURIComponent(call.callID)}` } },
                call.callID,
              ),
              h("span", { class: "sub" }, `${modeName(call.mode)} · ${callStateName(call.state)}`),
            ),
            h("td", { class: "mono nowrap" }, timeOf(call.createTime)),
            h("td", null, call.caller),
            h("td", null, own ? userStateName(own.state) : "—"),
            h("td", null, memberChips(call.callUserList.filter((m) => m.userID !== userID))),
          );
        }),
      ),
    ),
  );
}

export const userPage = (container: HTMLElement, _context: PageContext, userID: string) => {
  let stopped = false;
  replaceChildren(
    container,
    h(
      "div",
      { class: "page-head" },
      h("h1", { class: "page-title" }, "User ", h("span", { class: "mono" }, userID)),
    ),
    h("p", { class: "card empty" }, "Loading…"),
  );
  void (async () => {
    try {
      const encoded = encodeURIComponent(userID);
      const [user, devices, calls] = await Promise.all([
        api<{ known: boolean }>(`/users/${encoded}`),
        api<UserDevices>(`/users/${encoded}/devices`),
        api<UserCalls>(`/users/${encoded}/calls?count=25`),
      ]);
      if (stopped) return;
      const online = devices.devices.filter((d) => d.online).length;
      replaceChildren(
        container,
        h(
          "div",
          { class: "page-head" },
          h(
            "h1",
            { class: "page-title" },
            "User ",
            h("span", { class: "mono", testid: "user-id" }, userID),
          ),
          h(
            "span",
            { class: `badge badge-${online > 0 ? "good" : "quiet"}` },
            online > 0 ? `${online} online` : "Offline",
          ),
          user.known
            ? null
            : h("span", { class: "badge badge-bad", testid: "unknown-user" }, "Unknown user"),
        ),
        h(
          "section",
          { class: "card" },
          h("h2", { class: "section-title" }, "Devices"),
          devicesTable(devices, Date.now()),
        ),
        h(
          "section",
          { class: "card" },
          h("h2", { class: "section-title" }, "Recent calls"),
          callsTable(userID, calls),
        ),
      );
    } catch (error) {
      if (!stopped)
        replaceChildren(container, h("p", { class: "card empty" }, (error as Error).message));
    }
  })();
  return () => {
    stopped = true;
  };
};
