// Budgets that hold across the cluster: two nodes on one PostgreSQL and one Redis, a user's
// devices spread over both. Its requests, its logins and its server API calls each spend one
// budget, not one per node; with Redis cut from the rate limits, each node's own budgets answer
// and honest requests go on.
import { ErrorCode, PROTOCOL_VERSION } from "@beckon/protocol";
import { type BeckonServer, createServer, RedisRateLimits } from "@beckon/server";
import { describe, expect, it } from "vitest";
import type { CreateServerOptions } from "../src/create-server.js";
import { rateLimitSettings } from "../src/rate-limits/rate-limits.js";
import { resolveOptions } from "../src/server-options.js";
import { openRawSocket } from "./support/raw-socket.js";
import { postgresUrl, redisUrl, useClusterServices } from "./support/services.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { type Device, SECRET, useWorld } from "./support/world.js";

const world = useWorld();
const services = await useClusterServices();
const { available, cleanups } = services;

/**
 * Budgets that hardly refill, so counts do not depend on how fast the test runs. A socket may
 * send 11 requests (its login and 10 more); a user's devices together 22; a user may log in
 * 5 times and call the server API 3 times.
 */
const limits = {
  // Generous: a busy test machine must not make a node fall back to its own budgets.
  rateLimitTimeoutMs: 5_000,
  rateLimit: { burst: 11, perSecond: 0.001 },
  loginRateLimit: { burst: 5, perSecond: 0.001 },
  apiRateLimit: { burst: 3, perSecond: 0.001 },
} satisfies Partial<CreateServerOptions>;

/**
 * Two nodes on a fresh schema and Redis prefix. With `rateLimitsRedis`, each node's rate limits
 * reach Redis there instead (a proxy the test can cut), the rest of the node through `redisUrl`.
 */
async function cluster(rateLimitsRedis?: string): Promise<[BeckonServer, BeckonServer]> {
  const schema = services.schema();
  const prefix = services.prefix();
  const started = await Promise.allSettled(
    [1, 2].map(async (node) => {
      const rateLimits = rateLimitsRedis
        ? await RedisRateLimits.open({
            url: rateLimitsRedis,
            prefix,
            limits: rateLimitSettings(resolveOptions({ secret: SECRET, ...limits })),
            timeoutMs: limits.rateLimitTimeoutMs,
          })
        : undefined;
      // Given services are not the node's: closed here, after it.
      if (rateLimits) cleanups.push(() => rateLimits.close());
      return createServer({
        secret: SECRET,
        logLevel: "silent",
        store: `${postgresUrl}?schema=${schema}`,
        redis: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
        ...limits,
        services: { nodeID: `node-${node}`, ...(rateLimits ? { rateLimits } : {}) },
      });
    }),
  );
  const nodes = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  cleanups.push(async () => {
    await Promise.all(nodes.map((node) => node.close()));
  });
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  return nodes as [BeckonServer, BeckonServer];
}

/** Four devices of one user, two on each node, each sending 10 requests at once. */
async function flood(nodes: [BeckonServer, BeckonServer], userID: string) {
  const devices: Device[] = [];
  for (const [i, node] of [nodes[0], nodes[1], nodes[0], nodes[1]].entries()) {
    devices.push(await world.device(node, userID, { deviceID: `d${i}` }));
  }
  const codes = await Promise.all(
    devices.flatMap((device) =>
      Array.from({ length: 10 }, () =>
        device.client.queryCallInvitationList({ count: 1 }).then(
          () => 0,
          (error: { code?: number }) => error.code,
        ),
      ),
    ),
  );
  return {
    ok: codes.filter((code) => code === 0).length,
    refused: codes.filter((code) => code === ErrorCode.ServerFrequencyLimit).length,
  };
}

/** A login over a bare socket: the reply's error code, or 0 on success. */
async function loginCode(node: BeckonServer, userID: string, deviceID: string): Promise<number> {
  const raw = await openRawSocket(node.url);
  cleanups.push(() => raw.close());
  const token = await world.token(userID);
  const reply = await raw.request(
    JSON.stringify({
      id: 1,
      op: "login",
      data: { userID, deviceID, token, protocolVersion: PROTOCOL_VERSION },
    }),
  );
  return reply.ok === true ? 0 : ((reply.error as { code: number }).code ?? -1);
}

/** A server API call with the user's login token: its status. */
async function apiStatus(node: BeckonServer, userID: string): Promise<number> {
  const response = await fetch(`${node.httpUrl}/api/me/push-registrations`, {
    headers: { authorization: `Bearer ${await world.token(userID)}` },
  });
  const body = (await response.json()) as { code?: number };
  if (response.status === 429) {
    expect(body.code).toBe(ErrorCode.ServerFrequencyLimit);
    // How long to wait, as HTTP says it (RFC 9110 §10.2.3): whole seconds.
    expect(response.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  }
  return response.status;
}

describe.runIf(available)("rate limits across a cluster", () => {
  it("a user's devices on two nodes share one request budget", async () => {
    const nodes = await cluster();
    // Each device is within its socket's budget; the user's budget is 22 in all, not 22 per
    // node (which would let all 40 through).
    expect(await flood(nodes, "spread")).toEqual({ ok: 22, refused: 18 });
  });

  it("a user's logins on two nodes share one budget", async () => {
    const nodes = await cluster();
    const codes: number[] = [];
    for (const [i, node] of [
      nodes[0],
      nodes[1],
      nodes[0],
      nodes[1],
      nodes[0],
      nodes[1],
    ].entries()) {
      codes.push(await loginCode(node, "roamer", `d${i}`));
    }
    // Five in all, not five per node (which would let all six through).
    expect(codes).toEqual([0, 0, 0, 0, 0, ErrorCode.ServerFrequencyLimit]);
    // Another user's logins are their own.
    expect(await loginCode(nodes[1], "other", "d0")).toBe(0);
  });

  it("a user's server API calls on two nodes share one budget", async () => {
    const nodes = await cluster();
    const statuses: number[] = [];
    for (const node of [nodes[0], nodes[1], nodes[0], nodes[1]]) {
      statuses.push(await apiStatus(node, "backend"));
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it("with Redis cut from the rate limits, each node's own budgets answer and honest requests go on", async () => {
    const proxy = await startTcpProxy(Number(new URL(redisUrl).port || 6379));
    cleanups.push(() => proxy.close());
    const nodes = await cluster(`redis://127.0.0.1:${new URL(proxy.url).port}`);
    proxy.down();
    // Per node now: 22 for the user's two devices on each, so all 40 pass.
    expect(await flood(nodes, "spread")).toEqual({ ok: 40, refused: 0 });
    const logins: number[] = [];
    for (const [i, node] of [
      nodes[0],
      nodes[1],
      nodes[0],
      nodes[1],
      nodes[0],
      nodes[1],
    ].entries()) {
      logins.push(await loginCode(node, "roamer", `d${i}`));
    }
    expect(logins).toEqual([0, 0, 0, 0, 0, 0]);
    const statuses: number[] = [];
    for (const node of [nodes[0], nodes[1], nodes[0], nodes[1]]) {
      statuses.push(await apiStatus(node, "backend"));
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    // Still limited, per node: a fourth call on one node is one too many there.
    expect(await apiStatus(nodes[0], "backend")).toBe(200);
    expect(await apiStatus(nodes[0], "backend")).toBe(429);
  });
});
