// Serves the built operator console at /console with strict security headers: it loads nothing
// from elsewhere, talks only to this server's API, and may not be framed (clickjacking).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyHelmet from "@fastify/helmet";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";

export const CONSOLE_PATH = "/console/";

/** The console built in this checkout (`npm run build:console`), if it is. */
export function builtConsoleDir(): string | undefined {
  const built = fileURLToPath(new URL("../../../../apps/console/dist", import.meta.url));
  return existsSync(join(built, "index.html")) ? built : undefined;
}

export const consoleStaticPlugin: FastifyPluginAsync<{ root: string }> = async (app, { root }) => {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "upgrade-insecure-requests": null,
      },
    },
    frameguard: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
    strictTransportSecurity: false,
  });
  app.get("/console", (_request, reply) => reply.redirect(CONSOLE_PATH, 301));
  await app.register(fastifyStatic, {
    root,
    prefix: CONSOLE_PATH,
    decorateReply: false,
    index: "index.html",
    wildcard: true,
  });
};
