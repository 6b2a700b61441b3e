// What a server child reports about itself on request: memory after a full collection (the
// child runs with --expose-gc, so heap figures are live objects, not garbage not yet collected)
// and how long its event loop was held up since the last reading.
export interface MemoryReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface LoopDelayReport {
  /** Milliseconds: how late, at worst, a 50 ms interval ran (the event loop was held up). */
  maxMs: number;
}

export function memoryReport(): MemoryReport {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

// A plain interval rather than perf_hooks' monitorEventLoopDelay, which missed a 7.5 s stall of
// the server's start-up here. Started when this module loads, before the server is created.
// Every 50 ms, not 10: at 10 ms the interval alone cost an idle process 1.8% CPU (50 ms: ~0.4%).
const TICK_MS = 50;
let lastTick = performance.now();
let worstGap = 0;
setInterval(() => {
  const now = performance.now();
  worstGap = Math.max(worstGap, now - lastTick - TICK_MS);
  lastTick = now;
}, TICK_MS).unref();

/** The worst event-loop hold-up since the previous call (or the start); starts a new window. */
export function loopDelayReport(): LoopDelayReport {
  const report = { maxMs: Math.max(0, worstGap, performance.now() - lastTick - TICK_MS) };
  worstGap = 0;
  return report;
}

export const serverProbes = { memory: memoryReport, loopDelay: loopDelayReport };
