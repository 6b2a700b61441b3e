// /readyz: the node can serve only while its store answers, and in a cluster while Redis does.
import type { CallStore } from "../store/call-store.js";
import type { Readiness } from "./health-routes.js";

/** A store or Redis slower than this counts as unreachable for the probe. */
const PROBE_TIMEOUT_MS = 2_000;

/** "ok", or why `probe` failed or did not answer in time. */
async function probeOf(name: string, probe: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${name} did not answer in time`), PROBE_TIMEOUT_MS);
  });
  const answered = probe().then(
    () => "ok",
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  const result = await Promise.race([answered, timeout]);
  clearTimeout(timer);
  return result;
}

export async function checkReadiness(
  store: CallStore,
  health: { status(): string },
  redis?: () => Promise<unknown>,
): Promise<Readiness> {
  const [reached, redisState] = await Promise.all([
    probeOf("the store", () => store.getCall("readiness-probe")),
    redis ? probeOf("Redis", redis) : Promise.resolve(undefined),
  ]);
  // A store that answers reads may still be unable to write (a full disk).
  const result = reached === "ok" ? health.status() : reached;
  const checks: Record<string, string> = { store: result };
  if (redisState !== undefined) checks.redis = redisState;
  return { ready: Object.values(checks).every((check) => check === "ok"), checks };
}
