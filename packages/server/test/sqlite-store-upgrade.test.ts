// A data dir written by an older version opens with everything in it: calls, memberships, timers,
// the outbox entries the hooks had not seen, and the timelines and device deliveries that older
// versions kept in tables of their own (now each call's log).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultEngineSettings, type Fact, timersOf } from "@beckon/engine";
import { CallUserState } from "@beckon/protocol";
import Database from "better-sqlite3";
import { afterAll, expect, it } from "vitest";
import { timerChange } from "../src/store/call-store.js";
import { SqliteCallStore, sqliteMigrations } from "../src/store/sqlite-call-store.js";
import { makeCall } from "./support/store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "beckon-upgrade-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The tables of the timeline and delivery log as the integrations made them before. */
const olderModules = `
  CREATE TABLE module_schema (module TEXT PRIMARY KEY, version INTEGER NOT NULL);
  CREATE TABLE call_timeline (
    fact_id TEXT PRIMARY KEY, call_id TEXT NOT NULL, version INTEGER NOT NULL,
    at INTEGER NOT NULL, fact TEXT NOT NULL);
  CREATE INDEX call_timeline_call ON call_timeline(call_id, version);
  CREATE TABLE device_deliveries (
    call_id TEXT NOT NULL, user_id TEXT NOT NULL, device_id TEXT NOT NULL, step TEXT NOT NULL,
    deadline INTEGER NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (call_id, user_id, device_id, step, deadline)) WITHOUT ROWID;
  CREATE INDEX device_deliveries_at ON device_deliveries(at);
  INSERT INTO module_schema VALUES ('timeline', 1), ('device_deliveries', 1), ('api_keys', 1);`;

it("opens a file an older version wrote, with its calls, timers, outbox and timelines", async () => {
  const path = join(dir, "older.db");
  const older = new Database(path);
  older.pragma("journal_mode = WAL");
  // Every schema version but the last (the call log's): what the versions before it left.
  const olderVersion = sqliteMigrations.length - 1;
  for (const migration of sqliteMigrations.slice(0, olderVersion)) older.exec(migration);
  older.pragma(`user_version = ${olderVersion}`);
  older.exec(olderModules);

  // bob accepted alice's call (still ringing for carol); dave's call to bob ended.
  const ringing = makeCall("alice", ["bob", "carol"]);
  const members = ringing.members.map((member) =>
    member.userID === "bob" ? { ...member, state: CallUserState.Accepted } : member,
  );
  const running = { ...ringing, members, version: 2 };
  const ended = { ...makeCall("dave", ["bob"]), state: 2, endTime: 1_000_500, version: 2 };
  const insertCall = older.prepare(
    "INSERT INTO calls (call_id, state, end_time, version, data) VALUES (?, ?, ?, ?, ?)",
  );
  const insertMember = older.prepare(
    "INSERT INTO call_members (user_id, call_seq, active, accepted) VALUES (?, ?, ?, ?)",
  );
  const runningSeq = Number(
    insertCall.run(running.callID, 1, 0, 2, JSON.stringify(running)).lastInsertRowid,
  );
  const endedSeq = Number(
    insertCall.run(ended.callID, 2, ended.endTime, 2, JSON.stringify(ended)).lastInsertRowid,
  );
  insertMember.run("alice", runningSeq, 1, 0);
  insertMember.run("bob", runningSeq, 1, 1);
  insertMember.run("carol", runningSeq, 1, 0);
  insertMember.run("dave", endedSeq, 0, 0);
  insertMember.run("bob", endedSeq, 0, 0);
  const timers = timersOf(running, defaultEngineSettings);
  for (const timer of timers) {
    older
      .prepare("INSERT INTO timers (call_seq, kind, user_id, due_at) VALUES (?, ?, ?, ?)")
      .run(runningSeq, timer.kind, timer.userID, timer.at);
  }
  const fact = (kind: Fact["kind"], userID: string, at: number): Fact =>
    ({ kind, callID: running.callID, userID, state: 1, at }) as Fact;
  const first = [fact("member.invited", "bob", 10), fact("member.invited", "carol", 10)];
  const second = [fact("member.accepted", "bob", 20)];
  // Version 1 was relayed (in the timeline, its outbox row pruned); version 2 was relayed to
  // the timeline but its outbox row not yet pruned when the older version stopped.
  const timeline = older.prepare(
    "INSERT INTO call_timeline (fact_id, call_id, version, at, fact) VALUES (?, ?, ?, ?, ?)",
  );
  timeline.run(`${running.callID}:1`, running.callID, 1, 10, JSON.stringify(first));
  timeline.run(`${running.callID}:2`, running.callID, 2, 20, JSON.stringify(second));
  older
    .prepare("INSERT INTO outbox (call_id, version, facts) VALUES (?, ?, ?)")
    .run(running.callID, 2, JSON.stringify(second));
  older
    .prepare(
      `INSERT INTO device_deliveries (call_id, user_id, device_id, step, deadline, at)
       VALUES (?, 'bob', 'phone', 'sent', 99, 12), (?, 'bob', 'phone', 'received', 0, 15)`,
    )
    .run(running.callID, running.callID);
  older.close();

  const store = new SqliteCallStore(path);
  try {
    expect(await store.getCall(running.callID)).toEqual(running);
    expect((await store.activeCallsOf("bob")).map((call) => call.callID)).toEqual([running.callID]);
    expect((await store.listCallsOf("bob", 10, 0)).calls.map((call) => call.callID)).toEqual([
      ended.callID,
      running.callID,
    ]);
    expect(await store.startedCallIDs()).toEqual([running.callID]);
    expect(await store.countStartedCalls()).toEqual({ general: 1, advanced: 0 });
    expect(
      (await store.allTimers()).map(({ callID, kind, userID, at }) => [callID, kind, userID, at]),
    ).toEqual(timers.map((timer) => [running.callID, timer.kind, timer.userID, timer.at]));
    // The entry the hooks may not have finished is handed to them again (at least once).
    const outbox = await store.readOutbox(10);
    expect(outbox.map((entry) => [entry.callID, entry.version, entry.facts])).toEqual([
      [running.callID, 2, second],
    ]);
    expect(await store.logOf(running.callID)).toEqual({
      facts: [...first, ...second],
      deliveries: [
        {
          callID: running.callID,
          userID: "bob",
          deviceID: "phone",
          step: "sent",
          deadline: 99,
          at: 12,
        },
        {
          callID: running.callID,
          userID: "bob",
          deviceID: "phone",
          step: "received",
          deadline: 0,
          at: 15,
        },
      ],
    });
    // bob is still Accepted in the running call: the busy rule holds across the upgrade.
    const next = makeCall("bob", ["erin"]);
    expect(
      await store.commit({
        call: next,
        before: null,
        timers: timerChange([], []),
        facts: [],
        idleUser: "bob",
      }),
    ).toEqual({ ok: false, conflict: "busy" });
  } finally {
    await store.close();
  }
  const upgraded = new Database(path, { readonly: true });
  const tables = upgraded
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
    .all()
    .map((row) => row.name);
  const modules = upgraded
    .prepare<[], { module: string }>("SELECT module FROM module_schema")
    .all()
    .map((row) => row.module);
  upgraded.close();
  for (const gone of ["call_timeline", "device_deliveries", "outbox", "timers", "call_members"]) {
    expect(tables).not.toContain(gone);
  }
  expect(modules).toEqual(["api_keys"]);
});

it("refuses a file newer than it knows, and leaves it as it was", async () => {
  const path = join(dir, "newer.db");
  const newer = new Database(path);
  newer.pragma(`user_version = ${sqliteMigrations.length + 1}`);
  newer.close();
  expect(() => new SqliteCallStore(path)).toThrow(/newer/);
  const after = new Database(path, { readonly: true });
  expect(after.pragma("user_version", { simple: true })).toBe(sqliteMigrations.length + 1);
  after.close();
});
