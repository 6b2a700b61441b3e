// Deadlines across nodes on PostgreSQL: three timer sources over one database fire each due
// timer once, and the claims of a node that stops answering pass to the others.
import { type Call, defaultEngineSettings, factsBetween, timersOf } from "@beckon/engine";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type StoredTimer, timerChange } from "../src/store/call-store.js";
import { PostgresCallStore } from "../src/store/postgres-call-store.js";
import { PostgresTimerSource } from "../src/timers/postgres-timer-source.js";
import { havePostgres, postgresSchemas, postgresUrl } from "./support/services.js";
import { makeCall } from "./support/store-contract.js";

const available = await havePostgres();
const schemas = postgresSchemas();
afterAll(() => schemas.dropAll());

async function create(store: PostgresCallStore, call: Call): Promise<void> {
  const result = await store.commit({
    call,
    before: null,
    timers: timerChange([], timersOf(call, defaultEngineSettings)),
    facts: factsBetween(null, call, undefined, call.createTime),
  });
  expect(result).toEqual({ ok: true });
}

/** Collects fired timers and resolves `reached` once `count` have come in. */
function firings(count: number) {
  const fired: Array<{ node: string; timer: StoredTimer }> = [];
  let done: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    done = resolve;
  });
  return {
    fired,
    reached,
    handler(node: string) {
      return async (timer: StoredTimer) => {
        fired.push({ node, timer });
        if (fired.length >= count) done();
      };
    },
  };
}

describe.runIf(available)("PostgresTimerSource", () => {
  const stores: PostgresCallStore[] = [];
  const running: Array<{ source: PostgresTimerSource; stop: () => void }> = [];
  afterEach(async () => {
    for (const { source, stop } of running.splice(0)) {
      stop();
      await source.drain();
    }
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  async function nodes(count: number, options: { leaseMs?: number } = {}) {
    const schema = schemas.create();
    const opened = await Promise.all(
      Array.from({ length: count }, () =>
        PostgresCallStore.open({ connectionString: postgresUrl, schema, poolSize: 3 }),
      ),
    );
    stores.push(...opened);
    return opened.map(
      (store, i) => new PostgresTimerSource(store, { nodeID: `node${i}`, pollMs: 50, ...options }),
    );
  }

  function run(source: PostgresTimerSource, onDue: (timer: StoredTimer) => Promise<void>) {
    running.push({ source, stop: () => source.stop(onDue) });
    return source.start(onDue);
  }

  it("fires every due timer exactly once with three nodes polling", async () => {
    const sources = await nodes(3);
    const store = stores[0] as PostgresCallStore;
    // Already due when the nodes start: all three race for them.
    const calls = Array.from({ length: 40 }, (_, i) => makeCall(`a${i}`, [`b${i}`], 1_000));
    for (const call of calls) await create(store, call);
    const seen = firings(calls.length);
    // The first start counts what is pending before anything fires.
    expect(await run(sources[0] as PostgresTimerSource, seen.handler("node0"))).toBe(40);
    await Promise.all(sources.slice(1).map((s, i) => run(s, seen.handler(`node${i + 1}`))));
    await seen.reached;
    for (const { source, stop } of running) {
      stop();
      await source.drain();
    }
    expect(seen.fired.map((f) => f.timer.callID).sort()).toEqual(calls.map((c) => c.callID).sort());
    expect(await store.allTimers()).toEqual([]);
  });

  it("fires a timer set on another node once its time comes", async () => {
    const [first, second] = await nodes(2);
    const seen = firings(1);
    await run(first as PostgresTimerSource, seen.handler("node0"));
    await run(second as PostgresTimerSource, seen.handler("node1"));
    // Due a little after now: nobody hints it to either source, the poll finds it.
    const call = makeCall("c", ["d"], Date.now() - 30_000 + 200);
    await create(stores[1] as PostgresCallStore, call);
    await seen.reached;
    expect(seen.fired.map((f) => f.timer.callID)).toEqual([call.callID]);
  });

  it("hands a dead node's claims to another once the lease runs out", async () => {
    const [dying, survivor] = await nodes(2, { leaseMs: 300 });
    const calls = Array.from({ length: 5 }, (_, i) => makeCall(`e${i}`, [`f${i}`], 1_000));
    for (const call of calls) await create(stores[0] as PostgresCallStore, call);
    // The first node claims everything and never finishes (as if killed mid-handler).
    const claimedByDying = firings(calls.length);
    const hang = claimedByDying.handler("node0");
    await run(dying as PostgresTimerSource, (timer) =>
      hang(timer).then(() => new Promise(() => {})),
    );
    await claimedByDying.reached;
    (running[0] as { stop: () => void }).stop();
    running.splice(0, 1);
    await (stores[0] as PostgresCallStore).close();
    stores.splice(0, 1);
    const seen = firings(calls.length);
    await run(survivor as PostgresTimerSource, seen.handler("node1"));
    await seen.reached;
    expect(seen.fired.map((f) => f.timer.callID).sort()).toEqual(calls.map((c) => c.callID).sort());
  });

  it("refuses a lease, poll or batch that is not positive", async () => {
    await nodes(1);
    expect(
      () => new PostgresTimerSource(stores[0] as PostgresCallStore, { nodeID: "x", leaseMs: 0 }),
    ).toThrow(/must be positive/);
  });
});
