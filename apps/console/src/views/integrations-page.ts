// Integrations: each webhook endpoint's state (live or paused until when, its queue, its last
// failure, the last hour's deliveries) with its dead letters to replay, and each push
// provider's sends and failures over the last hour.
import { ApiError, api, type Integrations, type WebhookDeliveries } from "../api-client.js";
import { h, replaceChildren } from "../element-builder.js";
import { ago, timeOf } from "../format.js";
import type { Page } from "../page.js";

const th = (text: string) => h("th", { attrs: { scope: "col" } }, text);

export const integrationsPage: Page = (container, context) => {
  let stopped = false;
  /** What the last replay said; it outlives the reload the replay starts. */
  let notice = "";
  const load = async () => {
    try {
      const health = await api<Integrations>("/integrations");
      const dead = await Promise.all(
        health.webhooks.map((endpoint) =>
          api<WebhookDeliveries>(
            `/webhooks/deliveries?status=dead&endpointID=${encodeURIComponent(endpoint.id)}&limit=5`,
          ),
        ),
      );
      if (stopped) return;
      const now = Date.now();
      const message = h(
        "p",
        { class: "form-message", testid: "replay-message", attrs: { role: "status" } },
        notice,
      );
      const replay = async (id: string) => {
        try {
          await api(`/webhooks/deliveries/${encodeURIComponent(id)}/replay`, { method: "POST" });
          notice = `Delivery ${id} queued again.`;
          message.textContent = notice;
          void load();
        } catch (error) {
          notice = error instanceof ApiError ? error.message : "The server could not be reached.";
          message.textContent = notice;
        }
      };
      const endpoints = health.webhooks.map((endpoint, i) => {
        const paused = endpoint.state === "paused";
        return h(
          "article",
          { class: "card endpoint", testid: "endpoint", attrs: { "data-endpoint": endpoint.id } },
          h(
            "div",
            { class: "card-head" },
            h("h3", { class: "endpoint-url mono" }, endpoint.url),
            h(
              "span",
              { class: `badge badge-${paused ? "bad" : "good"}`, testid: "endpoint-state" },
              paused ? `Paused until ${timeOf(endpoint.pausedUntil)}` : "Live",
            ),
          ),
          endpoint.description ? h("p", { class: "hint" }, endpoint.description) : null,
          h(
            "dl",
            { class: "facts" },
            h(
              "div",
              null,
              h("dt", null, "Queue"),
              h("dd", { testid: "queue-depth" }, String(endpoint.queueDepth)),
            ),
            h(
              "div",
              null,
              h("dt", null, "Delivered, last hour"),
              h("dd", null, String(endpoint.delivered)),
            ),
            h("div", null, h("dt", null, "Dead, last hour"), h("dd", null, String(endpoint.dead))),
            h(
              "div",
              null,
              h("dt", null, "Last error"),
              h(
                "dd",
                { testid: "last-error" },
                endpoint.lastError
                  ? `${endpoint.lastError.httpStatus ? `HTTP ${endpoint.lastError.httpStatus}` : endpoint.lastError.error || "no answer"} · ${ago(endpoint.lastError.at, now)}`
                  : "none",
              ),
            ),
          ),
          (dead[i]?.deliveries.length ?? 0) > 0
            ? h(
                "div",
                {
                  class: "table-wrap",
                  attrs: { tabindex: "0", role: "region", "aria-label": "Dead letters" },
                },
                h(
                  "table",
                  { class: "table" },
                  h("caption", { class: "section-title" }, "Dead letters"),
                  h(
                    "thead",
                    null,
                    h("tr", null, th("Delivery"), th("Event"), th("Last answer"), th("")),
                  ),
                  h(
                    "tbody",
                    null,
                    (dead[i]?.deliveries ?? []).map((delivery) =>
                      h(
                        "tr",
                        null,
                        h(
                          "td",
                          { class: "mono" },
                          delivery.id,
                          h("span", { class: "sub" }, timeOf(delivery.createdAt)),
                        ),
                        h("td", null, delivery.type),
                        h(
                          "td",
                          null,
                          delivery.lastStatus
                            ? `HTTP ${delivery.lastStatus}`
                            : delivery.lastError || "—",
                        ),
                        h(
                          "td",
                          null,
                          h(
                            "button",
                            {
                              class: "button button-small",
                              attrs: {
                                type: "button",
                                disabled: !context.session.actions,
                                "aria-label": `Replay delivery ${delivery.id}`,
                              },
                              on: { click: () => void replay(delivery.id) },
                            },
                            "Replay",
                          ),
                        ),
                      ),
                    ),
                  ),
                ),
              )
            : null,
        );
      });
      replaceChildren(
        container,
        h(
          "div",
          { class: "page-head" },
          h("h1", { class: "page-title" }, "Integrations"),
          h(
            "button",
            {
              class: "button button-small",
              attrs: { type: "button" },
              on: { click: () => void load() },
            },
            "Refresh",
          ),
        ),
        h(
          "section",
          { attrs: { "aria-labelledby": "webhooks-title" } },
          h("h2", { class: "section-title", attrs: { id: "webhooks-title" } }, "Webhook endpoints"),
          endpoints.length > 0
            ? h("div", { class: "endpoints" }, endpoints)
            : h(
                "p",
                { class: "card empty" },
                "No webhook endpoint. Add one with POST /api/webhooks/endpoints.",
              ),
          message,
        ),
        h(
          "section",
          { class: "card", attrs: { "aria-labelledby": "push-title" } },
          h(
            "h2",
            { class: "section-title", attrs: { id: "push-title" } },
            "Push providers, last hour",
          ),
          health.push.length === 0
            ? h("p", { class: "empty" }, "No push provider is configured.")
            : h(
                "div",
                {
                  class: "table-wrap",
                  attrs: { tabindex: "0", role: "region", "aria-label": "Push providers" },
                },
                h(
                  "table",
                  { class: "table", testid: "push-table" },
                  h(
                    "thead",
                    null,
                    h(
                      "tr",
                      null,
                      th("Provider"),
                      th("Sent"),
                      th("Failed"),
                      th("Expired"),
                      th("Queued"),
                    ),
                  ),
                  h(
                    "tbody",
                    null,
                    health.push.map((push) =>
                      h(
                        "tr",
                        { testid: "push-provider", attrs: { "data-provider": push.provider } },
                        h(
                          "td",
                          null,
                          push.provider,
                          push.configured
                            ? null
                            : h("span", { class: "sub" }, "not configured now"),
                        ),
                        h("td", { testid: "push-sent" }, String(push.sent)),
                        h(
                          "td",
                          { class: push.failed > 0 ? "tone-text-bad" : "", testid: "push-failed" },
                          String(push.failed),
                        ),
                        h("td", null, String(push.expired)),
                        h("td", null, String(push.queued)),
                      ),
                    ),
                  ),
                ),
              ),
        ),
      );
    } catch (error) {
      if (!stopped)
        replaceChildren(container, h("p", { class: "card empty" }, (error as Error).message));
    }
  };
  replaceChildren(
    container,
    h("div", { class: "page-head" }, h("h1", { class: "page-title" }, "Integrations")),
    h("p", { class: "card empty" }, "Loading…"),
  );
  void load();
  return () => {
    stopped = true;
  };
};
