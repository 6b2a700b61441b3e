// /metrics passes Prometheus' own naming rules (what `promtool check metrics` reports), and
// Beckon's families keep their names and types: only the process gauges that broke a rule moved.
import { expect, it } from "vitest";
import { lintExposition, parseExposition } from "./support/prometheus-lint.js";
import { useWorld } from "./support/world.js";

const world = useWorld();

it("the lint reports what promtool reports", () => {
  const exposition = [
    "# HELP nodejs_active_handles_total Total number of active handles.",
    "# TYPE nodejs_active_handles_total gauge",
    "nodejs_active_handles_total 3",
    "# TYPE ring_ms counter",
    'ring_ms{callMode="1"} 2',
    "# HELP queue_size_bucket Buckets.",
    "# TYPE queue_size_bucket gauge",
    'queue_size_bucket{le="1"} 1',
    "# HELP up_minutes Uptime.",
    "# TYPE up_minutes gauge",
    "up_minutes 5",
    "# HELP rings_counter_total Rings.",
    "# TYPE rings_counter_total counter",
    'rings_counter_total{quantile="0.5"} 1',
    "# HELP job:rings:rate Rate.",
    "# TYPE job:rings:rate gauge",
    "job:rings:rate 1",
  ].join("\n");
  expect(lintExposition(exposition)).toEqual([
    { metric: "job:rings:rate", text: "metric names should not contain ':'" },
    {
      metric: "nodejs_active_handles_total",
      text: 'non-counter metrics should not have "_total" suffix',
    },
    {
      metric: "queue_size_bucket",
      text: 'non-histogram metrics should not have "_bucket" suffix',
    },
    { metric: "queue_size_bucket", text: 'non-histogram metrics should not have "le" label' },
    { metric: "ring_ms", text: 'counter metrics should have "_total" suffix' },
    {
      metric: "ring_ms",
      text: "label names should be written in 'snake_case' not 'camelCase'",
    },
    { metric: "ring_ms", text: "metric names should not contain abbreviated units" },
    { metric: "ring_ms", text: "no help text" },
    { metric: "rings_counter_total", text: "metric name should not include type 'counter'" },
    {
      metric: "rings_counter_total",
      text: 'non-summary metrics should not have "quantile" label',
    },
    { metric: "up_minutes", text: 'use base unit "seconds" instead of "minutes"' },
  ]);
});

it("/metrics passes Prometheus' naming rules", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  await world.device(server, "bob");
  // A ring fills the labelled families, so their label names are checked too.
  await alice.client.callInvite(["bob"], { timeout: 30 });
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  expect(lintExposition(text)).toEqual([]);
  // The per-type gauges still give the totals: sum(nodejs_active_handles).
  const names = parseExposition(text).map((family) => family.name);
  expect(names).toEqual(
    expect.arrayContaining([
      "nodejs_active_handles",
      "nodejs_active_requests",
      "nodejs_active_resources",
    ]),
  );
});

it("Beckon's own families keep their names and types", async () => {
  const server = await world.server();
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const own = parseExposition(text)
    .filter((family) => family.name.startsWith("beckon_"))
    .map((family) => `${family.name} ${family.type}`)
    .sort();
  expect(own).toEqual([
    "beckon_active_calls gauge",
    "beckon_calls_created_total counter",
    "beckon_calls_ended_total counter",
    "beckon_deadline_lateness_seconds histogram",
    "beckon_devices_online gauge",
    "beckon_logins_total counter",
    "beckon_logouts_total counter",
    "beckon_pending_deadlines gauge",
    "beckon_pending_invites gauge",
    "beckon_queue_overflow_total counter",
    "beckon_receipt_latency_seconds histogram",
    "beckon_requests_shed_total counter",
    "beckon_ring_latency_seconds histogram",
    "beckon_rings_total counter",
    "beckon_sockets_closed_total counter",
    "beckon_store_commit_seconds histogram",
  ]);
});
