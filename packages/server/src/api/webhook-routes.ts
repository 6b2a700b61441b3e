// Webhook administration (admin scope): endpoints, the delivery log with its dead letters, and
// replaying a delivery. Registered only when the node runs webhooks.
import { BeckonError, ErrorCode } from "@beckon/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { WebhookService } from "../webhooks/webhook-service.js";
import type { WebhookDelivery, WebhookStore } from "../webhooks/webhook-store.js";
import * as s from "./api-schemas.js";
import { ApiProblem } from "./problem.js";

export interface WebhookRoutesOptions {
  store: WebhookStore;
  service: Pick<WebhookService, "replay">;
  clock?: () => number;
}

function deliveryView(delivery: WebhookDelivery) {
  const { body, ...rest } = delivery;
  return { ...rest, payload: JSON.parse(body) as unknown };
}

function pageCursor(delivery: WebhookDelivery): string {
  return `${delivery.createdAt}.${delivery.id}`;
}

function parseCursor(cursor: string): { createdAt: number; id: string } {
  const dot = cursor.indexOf(".");
  const createdAt = Number(cursor.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(createdAt)) {
    throw new BeckonError(ErrorCode.ParamsInvalid, "before must be a `next` value from a reply");
  }
  return { createdAt, id: cursor.slice(dot + 1) };
}

export async function webhookRoutes(
  app: FastifyInstance,
  { store, service, clock = Date.now }: WebhookRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const admin = { config: { scope: "admin" as const } };
  const noSuchDelivery = () => new ApiProblem(404, ErrorCode.ParamsInvalid, "no such delivery");

  api.post(
    "/webhooks/endpoints",
    {
      ...admin,
      schema: {
        tags: ["webhooks"],
        operationId: "addWebhookEndpoint",
        summary: "Add a webhook endpoint",
        body: s.addEndpointBody,
        response: { 201: s.endpointCreated, ...s.bodyProblemReplies },
      },
    },
    async (request, reply) => {
      const { url, events, description } = request.body;
      const endpoint = await store.addEndpoint(
        { url, events: events ? [...new Set(events)] : null, description },
        clock(),
      );
      return reply.code(201).send(endpoint);
    },
  );

  api.get(
    "/webhooks/endpoints",
    {
      ...admin,
      schema: {
        tags: ["webhooks"],
        operationId: "listWebhookEndpoints",
        summary: "The webhook endpoints",
        response: { 200: s.endpointView.array(), ...s.problemReplies },
      },
    },
    async () => (await store.listEndpoints()).map(({ secret: _secret, ...endpoint }) => endpoint),
  );

  api.delete(
    "/webhooks/endpoints/:endpointID",
    {
      ...admin,
      schema: {
        tags: ["webhooks"],
        operationId: "removeWebhookEndpoint",
        summary: "Remove a webhook endpoint and its queued deliveries",
        params: s.endpointParams,
        response: { 204: s.noContent, ...s.problemReplies },
      },
    },
    async (request, reply) => {
      if (!(await store.removeEndpoint(request.params.endpointID))) {
        throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such webhook endpoint");
      }
      return reply.code(204).send(null);
    },
  );

  api.get(
    "/webhooks/deliveries",
    {
      ...admin,
      schema: {
        tags: ["webhooks"],
        operationId: "listWebhookDeliveries",
        summary: "Deliveries, newest first (`status=dead` is the dead-letter list)",
        querystring: s.listDeliveriesQuery,
        response: { 200: s.deliveriesReply, ...s.problemReplies },
      },
    },
    async (request) => {
      const { status, endpointID, limit, before } = request.query;
      const deliveries = await store.listDeliveries({
        limit,
        ...(status ? { status } : {}),
        ...(endpointID ? { endpointID } : {}),
        ...(before ? { before: parseCursor(before) } : {}),
      });
      const last = deliveries.at(-1);
      return {
        deliveries: deliveries.map(deliveryView),
        next: deliveries.length === limit && last ? pageCursor(last) : null,
      };
    },
  );

  api.get(
    "/webhooks/deliveries/:deliveryID",
    {
      ...admin,
      schema: {
        tags: ["webhooks"],
        operationId: "getWebhookDelivery",
        summary: "One delivery with every attempt made",
        params: s.deliveryParams,
        response: { 200: s.deliveryWithAttempts, ...s.problemReplies },
      },
    },
    async (request) => {
      const delivery = await store.getDelivery(request.params.deliveryID);
      if (!delivery) throw noSuchDelivery();
      const attempts = await store.attemptsOf(delivery.id);
      return {
        ...deliveryView(delivery),
        attemptLog: attempts.map(({ deliveryID: _id, ...attempt }) => attempt),
      };
    },
  );

  api.post(
    "/webhooks/deliveries/:deliveryID/replay",
    {
      ...admin,
      schema: {
        tags: ["webhooks"],
        operationId: "replayWebhookDelivery",
        summary: "Send a delivered or dead delivery again (same webhook-id)",
        params: s.deliveryParams,
        response: { 202: s.deliveryView, ...s.problemReplies },
      },
    },
    async (request, reply) => {
      const { deliveryID } = request.params;
      if (!(await store.getDelivery(deliveryID))) throw noSuchDelivery();
      if (!(await service.replay(deliveryID))) {
        throw new ApiProblem(409, ErrorCode.CallCommonError, "the delivery is still pending");
      }
      const queued = (await store.getDelivery(deliveryID)) as WebhookDelivery;
      return reply.code(202).send(deliveryView(queued));
    },
  );
}
