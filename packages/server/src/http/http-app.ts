// The HTTP side of a node, built on Fastify: every request and WebSocket upgrade goes through its
// router, so a path that cannot be parsed or decoded is a 400, never an exception out of a
// handler. Each concern is a plugin; a server API or /metrics can be registered the same way.
import type { Socket } from "node:net";
import { ErrorCode } from "@beckon/protocol";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import { API_PREFIX } from "../api/api-dependencies.js";
import { problem } from "../api/problem.js";
import type { ResolvedOptions } from "../server-options.js";
import { badRequestLog } from "./bad-request-log.js";
import { builtConsoleDir, consoleStaticPlugin } from "./console-static.js";
import { demoStaticPlugin } from "./demo-static.js";
import { planConnections } from "./descriptor-budget.js";
import { devRoutesPlugin } from "./dev-routes.js";
import { healthRoutesPlugin, type Readiness } from "./health-routes.js";

/** Frames above this are refused by the socket layer (close 1009) before any parsing. */
const MAX_FRAME_BYTES = 64 * 1024;
/** A client that has not sent its whole request head by then is cut (slow-header attacks). */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Request heads above this get 431: nothing Beckon serves needs more. */
const MAX_HEADER_BYTES = 16 * 1024;

/** What the HTTP side may ask of the rest of the node. */
export interface HttpDependencies {
  /** Users with a device online now, for the development presence list. */
  onlineUsers(limit: number): string[];
  /** Whether the node can serve: answers /readyz. */
  readiness(): Promise<Readiness>;
  /** Why a new WebSocket must be refused now (too many sockets), or null to let it in. */
  refuseSocket(remoteAddress: string): string | null;
  /** Takes over an upgraded WebSocket. */
  acceptSocket(socket: WebSocket, remoteAddress: string): void;
}

/**
 * Answers a request the router turned away: problem+json under the server API's prefix, where
 * every refusal is one, and the site's plain `{error}` elsewhere.
 */
function refuse(url: string | undefined, reply: FastifyReply, status: number, detail: string) {
  if (
    url === API_PREFIX ||
    url?.startsWith(`${API_PREFIX}/`) ||
    url?.startsWith(`${API_PREFIX}?`)
  ) {
    void reply
      .code(status)
      .type("application/problem+json")
      .send(JSON.stringify(problem(status, ErrorCode.ParamsInvalid, detail)));
    return;
  }
  void reply.code(status).send({ error: status === 404 ? "not found" : detail });
}

export async function buildHttpApp(
  options: ResolvedOptions,
  node: HttpDependencies,
  log: Logger,
): Promise<FastifyInstance> {
  const noteBadRequest = badRequestLog(log.child({ component: "http" }));
  const app = Fastify({
    loggerInstance: log.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 4096,
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    return503OnClosing: true,
    // A path the router cannot decode (`/%`, a cut UTF-8 escape) is the client's mistake.
    frameworkErrors: (error, request, reply) => {
      noteBadRequest(error.code, request.raw.url);
      refuse(request.raw.url, reply as FastifyReply, 400, "the request path cannot be decoded");
    },
  });
  // Malformed request lines and headers never reach a route; Fastify answers them, this logs.
  app.server.on("clientError", (error: NodeJS.ErrnoException) => {
    if (error.code !== "ECONNRESET") noteBadRequest(error.code ?? "client error");
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  const maxConnections = planConnections(log);
  if (maxConnections !== null) {
    app.server.maxConnections = maxConnections;
    let lastWarned = 0;
    app.server.on("drop", () => {
      // One line per burst is enough to tell an operator why sockets are refused.
      const now = Date.now();
      if (now - lastWarned < 10_000) return;
      lastWarned = now;
      log.warn(
        { maxConnections },
        "refusing connections: file descriptors are reserved for the store",
      );
    });
  }
  // An upgrade request leaves Node's HTTP machinery; when it is refused (bad path, bad key, too
  // many sockets) nothing would end its socket, so a half-closed or silent one is cut here, and
  // any still pending when the node closes.
  const upgrading = new Set<Socket>();
  app.server.on("upgrade", (_request, socket: Socket) => {
    upgrading.add(socket);
    socket.once("close", () => upgrading.delete(socket));
    socket.once("end", () => socket.destroy());
    // ws clears this timeout once the socket is a WebSocket.
    socket.setTimeout(HEADERS_TIMEOUT_MS, () => socket.destroy());
  });
  app.addHook("preClose", (done) => {
    for (const socket of upgrading) socket.destroy();
    done();
  });
  // Anything the router or a plugin could not handle is the client's fault unless proven
  // otherwise; it is logged and answered, and the process keeps serving.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status =
      typeof error.statusCode === "number" && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error, url: request.url }, "http request failed");
    else noteBadRequest(error.code ?? String(status), request.url);
    void reply.code(status).send({ error: status >= 500 ? "internal error" : error.message });
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: "not found" });
  });

  await app.register(fastifyWebsocket, {
    options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false },
    errorHandler: (error, socket) => {
      log.debug({ err: error }, "websocket handler failed");
      socket.terminate();
    },
  });
  // Upgrades go through the router like any request; only /ws may upgrade, and only while the
  // node has room for another socket that has not logged in yet.
  app.addHook("onRequest", async (request, reply) => {
    if (!request.ws) return;
    if (request.routeOptions.url !== "/ws") {
      noteBadRequest("upgrade outside /ws", request.url);
      refuse(request.url, reply, 404, "only /ws takes WebSocket upgrades");
      return reply;
    }
    const refusal = node.refuseSocket(request.socket.remoteAddress ?? "");
    if (refusal) {
      request.log.warn({ reason: refusal }, "websocket refused");
      await reply.code(503).header("retry-after", "5").send({ error: refusal });
    }
  });
  app.get("/ws", { websocket: true }, (socket, request) =>
    node.acceptSocket(socket, request.socket.remoteAddress ?? ""),
  );
  await app.register(healthRoutesPlugin, { readiness: node.readiness });
  if (options.devTokens) {
    await app.register(devRoutesPlugin, {
      secret: options.secret,
      ...(options.secretKeyID === undefined ? {} : { keyID: options.secretKeyID }),
      onlineUsers: node.onlineUsers,
    });
  }
  const consoleDir = options.consoleDir ?? builtConsoleDir();
  if (consoleDir) await app.register(consoleStaticPlugin, { root: consoleDir });
  if (options.staticDir) await app.register(demoStaticPlugin, { root: options.staticDir });
  return app;
}
