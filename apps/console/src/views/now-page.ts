// Now: the deployment at a glance, live from the event stream — calls ringing and started,
// devices online, rings per minute and ring latency over the last hour, shed and failed work,
// and the running calls.
import uPlot from "uplot";
import type { Snapshot } from "../api-client.js";
import { h, replaceChildren } from "../element-builder.js";
import { ago, latency, modeName } from "../format.js";
import type { Page } from "../page.js";
import { memberChips } from "./member-chips.js";

function tile(label: string, testid: string, hint?: string) {
  const value = h("span", { class: "tile-value", testid }, "—");
  const note = h("span", { class: "tile-note" }, hint ?? "");
  return {
    element: h(
      "div",
      { class: "card tile" },
      h("span", { class: "tile-label" }, label),
      value,
      note,
    ),
    set(text: string, tone?: "bad" | "good" | "wait" | null, noteText?: string) {
      value.textContent = text;
      value.className = `tile-value${tone ? ` tile-${tone}` : ""}`;
      if (noteText !== undefined) note.textContent = noteText;
    },
  };
}

function chart(title: string, series: uPlot.Series[], kind: "bars" | "lines") {
  const holder = h("div", { class: "chart-canvas" });
  const summary = h("p", { class: "visually-hidden" });
  const figure = h(
    "figure",
    { class: "card chart", attrs: { "aria-label": title } },
    h("figcaption", { class: "section-title" }, title),
    holder,
    summary,
  );
  let plot: uPlot | null = null;
  const width = () => Math.max(240, holder.clientWidth || 600);
  const options = (): uPlot.Options => ({
    width: width(),
    height: 190,
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      { stroke: "#636781", grid: { stroke: "#eef0f6" }, ticks: { stroke: "#e3e5f0" } },
      { stroke: "#636781", grid: { stroke: "#eef0f6" }, ticks: { stroke: "#e3e5f0" }, size: 56 },
    ],
    series: [
      {},
      ...series.map((s) =>
        kind === "bars"
          ? { ...s, paths: uPlot.paths.bars?.({ size: [0.7, 14] }), points: { show: false } }
          : { ...s, spanGaps: false, points: { show: true, size: 5 } },
      ),
    ],
  });
  const resize = new ResizeObserver(() => plot?.setSize({ width: width(), height: 190 }));
  resize.observe(holder);
  return {
    element: figure,
    update(data: uPlot.AlignedData, text: string) {
      summary.textContent = text;
      if (!plot) plot = new uPlot(options(), data, holder);
      else plot.setData(data);
    },
    destroy() {
      resize.disconnect();
      plot?.destroy();
    },
  };
}

export const nowPage: Page = (container, { feed }) => {
  const ringing = tile("Ringing", "stat-ringing", "calls with someone still pending");
  const started = tile("Started", "stat-started", "calls not ended");
  const devices = tile("Devices online", "stat-devices");
  const rings = tile("Rings, last hour", "stat-rings");
  const p50 = tile("Ring latency p50", "stat-p50", "invite → first delivery");
  const p99 = tile("Ring latency p99", "stat-p99", "last hour");
  const shed = tile("Shed", "stat-shed", "invitations refused under load");
  const failed = tile("Failed", "stat-failed", "pushes and dead webhooks, last hour");
  const ringsChart = chart(
    "Rings per minute",
    [{ label: "rings", stroke: "#4338ca", fill: "rgba(67,56,202,0.35)" }],
    "bars",
  );
  const latencyChart = chart(
    "Ring latency (ms)",
    [
      { label: "p50", stroke: "#15803d", width: 2 },
      { label: "p99", stroke: "#b45309", width: 2 },
    ],
    "lines",
  );
  const calls = h("div", {
    class: "table-wrap",
    testid: "live-calls",
    attrs: { tabindex: "0", role: "region", "aria-label": "Running calls" },
  });
  const updated = h("span", { class: "hint", testid: "updated-at" });
  const nodes = h("div", {
    class: "table-wrap",
    testid: "nodes",
    attrs: { tabindex: "0", role: "region", "aria-label": "Nodes" },
  });

  replaceChildren(
    container,
    h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Now"), updated),
    h(
      "section",
      { class: "tiles", attrs: { "aria-label": "Current numbers" } },
      [ringing, started, devices, rings, p50, p99, shed, failed].map((t) => t.element),
    ),
    h(
      "section",
      { class: "charts", attrs: { "aria-label": "Last hour" } },
      ringsChart.element,
      latencyChart.element,
    ),
    h("section", { class: "card" }, h("h2", { class: "section-title" }, "Running calls"), calls),
    h(
      "section",
      { class: "card" },
      h("h2", { class: "section-title" }, "Nodes, last hour"),
      h(
        "p",
        { class: "hint" },
        "The figures above are the sums of these: every node leaves its own on a shared board.",
      ),
      nodes,
    ),
  );

  const show = (snapshot: Snapshot) => {
    ringing.set(String(snapshot.calls.ringing), snapshot.calls.ringing > 0 ? "wait" : null);
    started.set(String(snapshot.calls.started));
    devices.set(
      String(snapshot.devicesOnline),
      null,
      `${snapshot.nodes.length} node${snapshot.nodes.length === 1 ? "" : "s"}`,
    );
    rings.set(String(snapshot.rings));
    p50.set(latency(snapshot.latency.p50));
    p99.set(
      latency(snapshot.latency.p99),
      null,
      `${snapshot.latency.count} ${snapshot.latency.count === 1 ? "delivery" : "deliveries"}, last hour`,
    );
    shed.set(
      snapshot.shed === null ? "—" : String(snapshot.shed),
      snapshot.shed ? "bad" : null,
      snapshot.shed === null ? "not counted by this server" : undefined,
    );
    const failures = snapshot.failed ? snapshot.failed.pushes + snapshot.failed.webhooks : 0;
    failed.set(
      String(failures),
      failures > 0 ? "bad" : null,
      snapshot.failed
        ? `${snapshot.failed.pushes} pushes · ${snapshot.failed.webhooks} webhooks, last hour`
        : undefined,
    );
    const times = snapshot.minutes.map((m) => m.at / 1000);
    ringsChart.update(
      [times, snapshot.minutes.map((m) => m.rings)],
      `${snapshot.rings} rings over the last hour; ${snapshot.minutes.at(-1)?.rings ?? 0} this minute.`,
    );
    latencyChart.update(
      [times, snapshot.minutes.map((m) => m.p50), snapshot.minutes.map((m) => m.p99)],
      `Ring latency over the last hour: p50 ${latency(snapshot.latency.p50)}, p99 ${latency(snapshot.latency.p99)}.`,
    );
    updated.textContent = `Updated ${new Date(snapshot.at).toLocaleTimeString()}`;
    const th = (text: string) => h("th", { attrs: { scope: "col" } }, text);
    replaceChildren(
      nodes,
      h(
        "table",
        { class: "table" },
        h(
          "thead",
          null,
          h("tr", null, th("Node"), th("Devices online"), th("Rings"), th("Delivered"), th("Shed")),
        ),
        h(
          "tbody",
          null,
          [...snapshot.nodes]
            .sort((a, b) => (a.nodeID < b.nodeID ? -1 : 1))
            .map((node) =>
              h(
                "tr",
                { testid: "node", attrs: { "data-node": node.nodeID } },
                h("td", { class: "mono" }, node.nodeID),
                h("td", { testid: "node-devices" }, String(node.devicesOnline)),
                h("td", { testid: "node-rings" }, String(node.rings)),
                h("td", { testid: "node-delivered" }, String(node.delivered)),
                h("td", null, String(node.shed)),
              ),
            ),
        ),
      ),
    );
    if (snapshot.liveCalls.length === 0) {
      replaceChildren(calls, h("p", { class: "empty" }, "No call is running."));
      return;
    }
    replaceChildren(
      calls,
      h(
        "table",
        { class: "table" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { attrs: { scope: "col" } }, "Call"),
            h("th", { attrs: { scope: "col" } }, "Caller"),
            h("th", { attrs: { scope: "col" } }, "Members"),
            h("th", { attrs: { scope: "col" } }, "Started"),
          ),
        ),
        h(
          "tbody",
          null,
          snapshot.liveCalls.map((call) =>
            h(
              "tr",
              { testid: "live-call", attrs: { "data-call-id": call.callID } },
              h(
                "td",
                null,
                h(
                  "a",
                  { class: "mono", attrs: { href: `#/calls/${encodeURIComponent(call.callID)}` } },
                  call.callID,
                ),
                h("span", { class: "sub" }, modeName(call.mode)),
              ),
              h(
                "td",
                null,
                h(
                  "a",
                  { attrs: { href: `#/users/${encodeURIComponent(call.caller)}` } },
                  call.caller,
                ),
              ),
              h("td", null, memberChips(call.members.filter((m) => m.userID !== call.caller))),
              h("td", { class: "nowrap" }, ago(call.createTime, snapshot.at)),
            ),
          ),
        ),
      ),
    );
  };
  const off = feed.listen(show);
  return () => {
    off();
    ringsChart.destroy();
    latencyChart.destroy();
  };
};
