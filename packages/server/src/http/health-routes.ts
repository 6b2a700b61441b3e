// Liveness and readiness probes for load balancers and orchestrators.
import type { FastifyPluginAsync } from "fastify";

export interface Readiness {
  ready: boolean;
  /** Per dependency: "ok" or why it is not. */
  checks: Record<string, string>;
}

export const healthRoutesPlugin: FastifyPluginAsync<{
  readiness: () => Promise<Readiness>;
}> = async (app, { readiness }) => {
  // The process answers: nothing more is checked, so a slow store never gets a node restarted.
  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_request, reply) => {
    const state = await readiness().catch(
      (error: unknown): Readiness => ({
        ready: false,
        checks: { store: error instanceof Error ? error.message : String(error) },
      }),
    );
    return reply.code(state.ready ? 200 : 503).send(state);
  });
};
