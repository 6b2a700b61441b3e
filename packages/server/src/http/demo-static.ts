// Serves the built demo page with the usual security headers.
import fastifyHelmet from "@fastify/helmet";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";

export const demoStaticPlugin: FastifyPluginAsync<{ root: string }> = async (app, { root }) => {
  await app.register(fastifyHelmet, {
    // The page talks to this same server over WebSocket; nothing else is loaded from elsewhere.
    contentSecurityPolicy: {
      useDefaults: true,
      directives: { "connect-src": ["'self'"], "upgrade-insecure-requests": null },
    },
    referrerPolicy: { policy: "no-referrer" },
    // Plain-HTTP development must stay reachable; TLS deployments add HSTS at their proxy.
    strictTransportSecurity: false,
  });
  await app.register(fastifyStatic, { root, wildcard: true, index: "index.html" });
};
