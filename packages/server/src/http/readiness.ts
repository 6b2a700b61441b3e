// /readyz: the node can serve only while its store answers.
import type { CallStore } from "../store/call-store.js";
import type { Readiness } from "./health-routes.js";

/** A store slower than this counts as unreachable for the probe. */
const STORE_PROBE_TIMEOUT_MS = 2_000;

export async function checkReadiness(
  store: CallStore,
  health: { status(): string },
): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("the store did not answer in time"), STORE_PROBE_TIMEOUT_MS);
  });
  const probe = store.getCall("readiness-probe").then(
    () => "ok",
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  const reached = await Promise.race([probe, timeout]);
  clearTimeout(timer);
  // A store that answers reads may still be unable to write (a full disk).
  const result = reached === "ok" ? health.status() : reached;
  return { ready: result === "ok", checks: { store: result } };
}
