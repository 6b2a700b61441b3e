// The CallStore contract on PostgreSQL, plus what only a shared database has to get right:
// several nodes (each its own pool) committing, claiming timers and relaying the outbox at once.
// Every store here lives in a schema of its own, dropped when the file is done.
import {
  type Call,
  defaultEngineSettings,
  factsBetween,
  type Timer,
  timersOf,
} from "@beckon/engine";
import { CallState, CallUserState } from "@beckon/protocol";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CallCommit, timerChange } from "../src/store/call-store.js";
import { PostgresCallStore } from "../src/store/postgres-call-store.js";
import { havePostgres, postgresSchemas, postgresUrl } from "./support/services.js";
import { describeCallStore, makeCall } from "./support/store-contract.js";

const available = await havePostgres();
const schemas = postgresSchemas();
afterAll(() => schemas.dropAll());

function open(schema = schemas.create()): Promise<PostgresCallStore> {
  return PostgresCallStore.open({ connectionString: postgresUrl, schema, poolSize: 4 });
}

/** The commit that creates `call`, as the engine would hand it over. */
function creation(call: Call): CallCommit {
  return {
    call,
    before: null,
    timers: timerChange([], timersOf(call, defaultEngineSettings)),
    facts: factsBetween(null, call, { userID: call.caller, deviceID: "d" }, call.createTime),
    idleUser: call.caller,
  };
}

/** The commit that moves `before` to `after`. */
function change(before: Call, after: Call, idleUser?: string): CallCommit {
  return {
    call: after,
    before,
    timers: timerChange(
      timersOf(before, defaultEngineSettings),
      timersOf(after, defaultEngineSettings),
    ),
    facts: factsBetween(before, after, undefined, after.createTime + 1),
    ...(idleUser !== undefined ? { idleUser } : {}),
  };
}

function withMember(call: Call, userID: string, state: CallUserState): Call {
  return {
    ...call,
    version: call.version + 1,
    members: call.members.map((m) =>
      m.userID === userID ? { ...m, state, deadline: 0, acceptTime: 1 } : m,
    ),
  };
}

function ended(call: Call): Call {
  return {
    ...call,
    state: CallState.Ended,
    endTime: call.createTime + 5,
    version: call.version + 1,
  };
}

describe.runIf(available)("PostgresCallStore", () => {
  describeCallStore("PostgreSQL", () => open());

  describe("one node", () => {
    let store: PostgresCallStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    it("commits a call with its timers and facts, and rejects a stale version", async () => {
      const call = makeCall("alice", ["bob", "carol"]);
      expect(await store.commit(creation(call))).toEqual({ ok: true });
      expect(await store.getCall(call.callID)).toEqual(call);
      expect((await store.allTimers()).map((t) => t.userID).sort()).toEqual(["bob", "carol"]);
      const accepted = withMember(call, "bob", CallUserState.Accepted);
      expect(await store.commit(change(call, accepted))).toEqual({ ok: true });
      // The same `before` again: another writer already moved the call on.
      expect(await store.commit(change(call, accepted))).toEqual({
        ok: false,
        conflict: "version",
      });
      expect(await store.getCall(call.callID)).toEqual(accepted);
      expect((await store.allTimers()).map((t) => t.userID)).toEqual(["carol"]);
      const outbox = await store.readOutbox(10);
      expect(outbox.map((e) => [e.callID, e.version])).toEqual([
        [call.callID, call.version],
        [call.callID, accepted.version],
      ]);
      expect(outbox[1]?.facts.map((f) => f.kind)).toEqual(["member.accepted"]);
      await store.ackOutbox(outbox.map((e) => e.id));
      // The acknowledgement rides on the relay's next read: one statement a round, not two.
      const rows = () => store.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox");
      expect(Number((await rows()).rows[0]?.n)).toBe(2);
      expect(await store.readOutbox(10)).toEqual([]);
      expect(Number((await rows()).rows[0]?.n)).toBe(0);
    });

    it("a lost compare-and-set keeps its connection: conflicts cost no new connections", async () => {
      const call = makeCall("alice", ["bob"]);
      await store.commit(creation(call));
      const accepted = withMember(call, "bob", CallUserState.Accepted);
      await store.commit(change(call, accepted));
      // The pool opens at most its size; each new one counted from here.
      let opened = 0;
      store.pool.on("connect", () => {
        opened += 1;
      });
      const warm = Array.from({ length: 4 }, () => store.getCall(call.callID));
      await Promise.all(warm);
      const before = opened;
      for (let i = 0; i < 20; i++) {
        expect(await store.commit(change(call, accepted))).toEqual({
          ok: false,
          conflict: "version",
        });
      }
      expect(opened).toBe(before);
    });

    it("refuses a commit whose idle user is Accepted in another started call", async () => {
      const first = makeCall("alice", ["bob"]);
      await store.commit(creation(first));
      const second = makeCall("alice", ["carol"]);
      expect(await store.commit(creation(second))).toEqual({ ok: false, conflict: "busy" });
      expect(await store.getCall(second.callID)).toBeUndefined();
      // Nothing of the refused commit stays: no timers, no outbox entry, no list position.
      expect((await store.allTimers()).map((t) => t.callID)).toEqual([first.callID]);
      expect((await store.readOutbox(10)).map((e) => e.callID)).toEqual([first.callID]);
      expect((await store.listCallsOf("carol", 10, 0)).calls).toEqual([]);
      await store.commit(change(first, ended(first)));
      expect(await store.commit(creation(second))).toEqual({ ok: true });
    });

    it("a failing commit leaves the store as it was and the next commit works", async () => {
      const call = makeCall("alice", ["bob"]);
      await store.commit(creation(call));
      // The same call created twice breaks the unique call ID: an error, not a conflict.
      await expect(store.commit({ ...creation(call), idleUser: undefined })).rejects.toThrow(
        /duplicate key/,
      );
      expect(await store.getCall(call.callID)).toEqual(call);
      expect(await store.allTimers()).toHaveLength(1);
      expect(await store.commit(change(call, ended(call)))).toEqual({ ok: true });
    });

    it("rejects a schema name that is not a plain identifier, creating nothing", async () => {
      await expect(
        PostgresCallStore.open({
          connectionString: postgresUrl,
          schema: 'x"; DROP TABLE calls; --',
        }),
      ).rejects.toThrow(/invalid PostgreSQL schema name/);
    });
  });

  describe("several nodes on one database", () => {
    const nodes: PostgresCallStore[] = [];
    let schema: string;
    beforeEach(async () => {
      schema = schemas.create();
      // Three nodes starting together: the migration runs once, the others wait for it.
      nodes.push(...(await Promise.all([open(schema), open(schema), open(schema)])));
    });
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((node) => node.close()));
    });
    const node = (i: number) => nodes[i] as PostgresCallStore;

    it("two concurrent commits on one call: exactly one wins, on every try", async () => {
      for (let round = 0; round < 20; round++) {
        const call = makeCall(`caller${round}`, ["bob", "carol"]);
        await node(0).commit(creation(call));
        const viaBob = withMember(call, "bob", CallUserState.Rejected);
        const viaCarol = withMember(call, "carol", CallUserState.Rejected);
        const results = await Promise.all([
          node(1).commit(change(call, viaBob)),
          node(2).commit(change(call, viaCarol)),
        ]);
        const winners = results.filter((r) => r.ok);
        expect(winners).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, conflict: "version" }]);
        const stored = await node(0).getCall(call.callID);
        expect(stored).toEqual(results[0]?.ok ? viaBob : viaCarol);
      }
    });

    it("commands of one call on three nodes at once are serialized: none loses, none waits for a retry", async () => {
      for (let round = 0; round < 10; round++) {
        const call = makeCall(`serial${round}`, ["bob", "carol"]);
        await node(0).commit(creation(call));
        const seen: number[] = [];
        const results = await Promise.all(
          [0, 1, 2].map((i) =>
            node(i).update(call.callID, (stored) => {
              if (!stored) throw new Error("no call");
              seen.push(stored.version);
              const next = { ...stored, version: stored.version + 1 };
              return { value: i, change: change(stored, next) };
            }),
          ),
        );
        expect(results.map((r) => r.result)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
        expect([...seen].sort()).toEqual([1, 2, 3]);
        expect((await node(0).getCall(call.callID))?.version).toBe(4);
      }
    });

    it("the busy rule holds across nodes: one user's two calls at once, one passes", async () => {
      for (let round = 0; round < 20; round++) {
        const calls = [0, 1, 2].map((i) => makeCall(`dave${round}`, [`peer${round}-${i}`]));
        const results = await Promise.all(calls.map((call, i) => node(i).commit(creation(call))));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([
          { ok: false, conflict: "busy" },
          { ok: false, conflict: "busy" },
        ]);
      }
    });

    it("accepting and calling out at once on two nodes: never Accepted in two calls", async () => {
      for (let round = 0; round < 20; round++) {
        const erin = `erin${round}`;
        const incoming = makeCall(`frank${round}`, [erin]);
        await node(0).commit(creation(incoming));
        const outgoing = makeCall(erin, [`gina${round}`]);
        const results = await Promise.all([
          node(1).commit(
            change(incoming, withMember(incoming, erin, CallUserState.Accepted), erin),
          ),
          node(2).commit(creation(outgoing)),
        ]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        const accepted = (await node(0).activeCallsOf(erin)).filter((call) =>
          call.members.some((m) => m.userID === erin && m.state === CallUserState.Accepted),
        );
        expect(accepted).toHaveLength(1);
      }
    });

    it("pages a call list without skips or repeats while other nodes keep adding calls", async () => {
      const settled: string[] = [];
      for (let i = 0; i < 30; i++) {
        const call = makeCall(`early${i}`, ["pager"]);
        await node(i % 3).commit(creation(call));
        settled.push(call.callID);
      }
      let writing = true;
      const writers = [1, 2].map(async (n) => {
        let i = 0;
        while (writing) await node(n).commit(creation(makeCall(`late${n}-${i++}`, ["pager"])));
      });
      const seen: string[] = [];
      let before = 0;
      do {
        const page = await node(0).listCallsOf("pager", 4, before);
        seen.push(...page.calls.map((c) => c.callID));
        before = page.next;
      } while (before !== 0);
      writing = false;
      await Promise.all(writers);
      expect(new Set(seen).size).toBe(seen.length);
      // Everything committed before the first page is in the traversal, newest first.
      expect(seen.filter((id) => settled.includes(id))).toEqual([...settled].reverse());
    });

    it("only one node relays the outbox; when it goes, another takes over", async () => {
      const call = makeCall("hank", ["ivy"]);
      await node(0).commit(creation(call));
      const first = await node(1).readOutbox(10);
      expect(first.map((e) => e.callID)).toEqual([call.callID]);
      expect(await node(0).readOutbox(10)).toEqual([]);
      expect(await node(2).readOutbox(10)).toEqual([]);
      // The relay dies before acknowledging: the next one to ask takes over and gets the same
      // entries again.
      await node(1).close();
      await expect
        .poll(async () => (await node(2).readOutbox(10)).map((e) => e.id), { timeout: 5_000 })
        .toEqual(first.map((e) => e.id));
      expect(await node(0).readOutbox(10)).toEqual([]);
    });

    it("hands out one call's facts in version order however the nodes interleave", async () => {
      let call = makeCall("judy", ["kim", "lee", "max"]);
      await node(0).commit(creation(call));
      const versions = [call.version];
      for (const [i, user] of ["kim", "lee", "max"].entries()) {
        const next = withMember(call, user, CallUserState.Rejected);
        expect(await node(i).commit(change(call, next))).toEqual({ ok: true });
        call = next;
        versions.push(call.version);
      }
      const entries = await node(0).readOutbox(10);
      expect(entries.map((e) => e.version)).toEqual(versions);
    });

    it("claims each due timer for one node only, until its lease runs out", async () => {
      const calls = Array.from({ length: 12 }, (_, i) => makeCall(`nia${i}`, ["oscar"], 1_000));
      for (const call of calls) await node(0).commit({ ...creation(call), idleUser: undefined });
      const due = (calls[0]?.members[1]?.deadline ?? 0) + 1;
      const claims = await Promise.all(
        [0, 1, 2].map((i) => node(i).claimDueTimers(due, due + 10_000, `node${i}`, 5)),
      );
      const claimed = claims.flat().map((t) => t.callID);
      expect(claimed.sort()).toEqual(calls.map((c) => c.callID).sort());
      // Nobody gets them again while the leases hold ...
      expect(await node(0).claimDueTimers(due + 5_000, due + 20_000, "node0", 50)).toEqual([]);
      // ... and past the lease, a timer whose node died goes to another.
      const orphan = claims[1]?.[0] as Timer & { callID: string };
      const again = await node(2).claimDueTimers(due + 10_000, due + 20_000, "node2", 50);
      expect(again.map((t) => t.callID)).toContain(orphan.callID);
      // A handled timer is gone; one claimed again by another node is not the first's to drop.
      await node(1).finishTimer(orphan, "node1");
      expect((await node(0).allTimers()).map((t) => t.callID)).toContain(orphan.callID);
      await node(2).finishTimer(orphan, "node2");
      expect((await node(0).allTimers()).map((t) => t.callID)).not.toContain(orphan.callID);
    });
  });

  it("keeps its data across a reopen, and migrating again changes nothing", async () => {
    const schema = schemas.create();
    const first = await open(schema);
    const call = makeCall("alice", ["bob"]);
    await first.commit(creation(call));
    await first.close();
    const second = await open(schema);
    try {
      expect(await second.getCall(call.callID)).toEqual(call);
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      const applied = await client.query(`SELECT name FROM ${schema}.beckon_migrations`);
      await client.end();
      expect(applied.rows.map((row) => row.name)).toEqual([
        "0001_calls",
        "0002_commit_function",
        "0003_timer_leases",
        "0004_integrations",
        "0005_device_deliveries",
        "0006_webhook_endpoint_pause",
        "0007_webhook_claims_per_endpoint",
        "0008_integration_health",
        "0009_shared_secrets",
      ]);
    } finally {
      await second.close();
    }
  });
});
