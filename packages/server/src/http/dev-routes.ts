// Development-only endpoints: a token for anyone, and who is online. Never registered in
// production mode.
import { isValidUserID } from "@beckon/protocol";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { signToken } from "../auth-tokens.js";

const MAX_LISTED_ONLINE = 200;
const MAX_BODY_BYTES = 4096;

/**
 * A page on another site must not mint tokens through a developer's browser: a browser names the
 * page's origin on every cross-origin POST, and it must be this server's own.
 */
function isCrossOrigin(request: FastifyRequest): boolean {
  if (request.headers["sec-fetch-site"] === "cross-site") return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

export const devRoutesPlugin: FastifyPluginAsync<{
  secret: string;
  keyID?: string;
  onlineUsers: (limit: number) => string[];
}> = async (app, { secret, keyID, onlineUsers }) => {
  // The body is parsed here, whatever its content type, so a bad one gets this route's message.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "*",
    { parseAs: "string", bodyLimit: MAX_BODY_BYTES },
    (_request, body, done) => done(null, body),
  );
  app.post("/dev/token", async (request, reply) => {
    if (isCrossOrigin(request)) {
      return reply.code(403).send({ error: "cross-origin requests may not mint tokens" });
    }
    let userID: unknown;
    try {
      userID = (JSON.parse(String(request.body ?? "")) as { userID?: unknown } | null)?.userID;
    } catch {
      return reply.code(400).send({ error: 'send {"userID": "..."} as JSON' });
    }
    if (!isValidUserID(userID)) return reply.code(400).send({ error: "invalid userID" });
    return {
      userID,
      token: await signToken({ secret, userID, ...(keyID === undefined ? {} : { keyID }) }),
    };
  });
  // Who is online, for the demo. In production this would tell anyone who uses the service; an
  // app shows presence through its own backend and rules.
  app.get("/dev/online", async () => ({ userIDs: onlineUsers(MAX_LISTED_ONLINE) }));
};
