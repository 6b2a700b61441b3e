// Plain HTTP beside the WebSocket: health, development tokens and the static demo page.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { isValidUserID } from "@beckon/protocol";
import { signToken } from "./auth-tokens.js";
import type { ResolvedOptions } from "./server-options.js";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
};

const MAX_BODY_BYTES = 4096;

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** What the HTTP side may ask of the rest of the node. */
export interface HttpDependencies {
  /** Users with a device online now, for the development presence list. */
  onlineUsers(limit: number): string[];
}

const MAX_LISTED_ONLINE = 200;

export function createHttpHandler(options: ResolvedOptions, node: HttpDependencies) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/healthz") {
      sendJson(response, 200, { ok: true });
      return;
    }
    if (url.pathname === "/dev/token" && request.method === "POST" && options.devTokens) {
      let userID: unknown;
      try {
        userID = (JSON.parse(await readBody(request)) as { userID?: unknown }).userID;
      } catch {
        sendJson(response, 400, { error: 'send {"userID": "..."} as JSON' });
        return;
      }
      if (!isValidUserID(userID)) {
        sendJson(response, 400, { error: "invalid userID" });
        return;
      }
      sendJson(response, 200, {
        userID,
        token: await signToken({ secret: options.secret, userID }),
      });
      return;
    }
    // Who is online, for the demo. Development only: in production this would tell anyone who
    // uses the service; an app shows presence through its own backend and rules.
    if (url.pathname === "/dev/online" && request.method === "GET" && options.devTokens) {
      sendJson(response, 200, { userIDs: node.onlineUsers(MAX_LISTED_ONLINE) });
      return;
    }
    if (options.staticDir && (request.method === "GET" || request.method === "HEAD")) {
      const root = normalize(options.staticDir);
      const relative = url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname);
      const path = normalize(join(root, relative));
      if (path.startsWith(root + sep)) {
        const info = await stat(path).catch(() => null);
        if (info?.isFile()) {
          response.writeHead(200, {
            "content-type": contentTypes[extname(path)] ?? "application/octet-stream",
            "content-length": info.size,
          });
          if (request.method === "HEAD") response.end();
          else createReadStream(path).pipe(response);
          return;
        }
      }
    }
    sendJson(response, 404, { error: "not found" });
  };
}
