// Prepares a Beckon SQLite file before a server opens it: stored history (ended calls) and
// pending invitations whose callers are offline. Calls are built by the engine and written by
// the server's own store class, so the file is what a server that handled those calls and then
// stopped would leave. (100 000 ringing calls would need 100 000 callers online, each busy in
// its own call: more sockets than one machine may open.)
import { randomBytes } from "node:crypto";
import {
  applyCommand,
  type Call,
  createCall,
  defaultEngineSettings,
  timersOf,
} from "@beckon/engine";
import { CallInvitationMode } from "@beckon/sdk";
// Not part of @beckon/server's public entry; the built file is used as the server uses it.
import { SqliteCallStore } from "@beckon/server";
import Database from "better-sqlite3";

export interface SeededCall {
  callID: string;
  caller: string;
  invitee: string;
  deadline: number;
}

export interface StorePlan {
  /** Ended 1:1 calls (answered with a reject), as a store keeps them for its retention time. */
  endedCalls?: number;
  /** How long ago those calls ended (default one day: well inside the 30-day retention). */
  endedAgoMs?: number;
  /** Pending 1:1 invitations, deadlines spread evenly over [firstDeadline, +spreadMs). */
  pending?: { count: number; firstDeadline: number; spreadMs: number };
}

const RING_SECONDS = 120;
const BATCH = 5_000;

function newCall(callID: string, caller: string, invitee: string, now: number): Call {
  const decision = createCall(
    {
      type: "invite",
      actor: { userID: caller, deviceID: `seed-${caller}` },
      callID,
      invitees: [invitee],
      timeout: RING_SECONDS,
      mode: CallInvitationMode.General,
      extendedData: "",
      knownUsers: new Set([invitee]),
      callerBusy: false,
    },
    now,
    defaultEngineSettings,
  );
  if (!decision.ok) throw decision.error;
  return decision.call;
}

/** Writes `calls` through the store, a batch per transaction (a commit per call would dominate). */
async function writeCalls(store: SqliteCallStore, calls: Call[]): Promise<void> {
  for (let from = 0; from < calls.length; from += BATCH) {
    const batch = calls.slice(from, from + BATCH);
    await store.importCalls(
      batch.map((call) => ({ call, timers: timersOf(call, defaultEngineSettings) })),
    );
  }
}

/** Creates (or extends) the SQLite file at `path` as planned; returns the pending calls. */
export async function prepareStore(path: string, plan: StorePlan): Promise<SeededCall[]> {
  const store = new SqliteCallStore(path);
  const seeded: SeededCall[] = [];
  try {
    const ended: Call[] = [];
    const endedCount = plan.endedCalls ?? 0;
    const now = Date.now();
    for (let i = 0; i < endedCount; i++) {
      const caller = `hc${i}`;
      const invitee = `hi${i}`;
      const at = now - (plan.endedAgoMs ?? 86_400_000) + i;
      const call = newCall(randomBytes(16).toString("base64url"), caller, invitee, at);
      const rejected = applyCommand(
        call,
        { type: "reject", actor: { userID: invitee, deviceID: `seed-${invitee}` } },
        at + 1_000,
        defaultEngineSettings,
      );
      if (!rejected.ok) throw rejected.error;
      ended.push(rejected.call);
    }
    const pendingCount = plan.pending?.count ?? 0;
    for (let i = 0; i < pendingCount && plan.pending; i++) {
      const { firstDeadline, spreadMs } = plan.pending;
      seeded.push({
        callID: randomBytes(16).toString("base64url"),
        caller: `tc${i}`,
        invitee: `ti${i}`,
        deadline: firstDeadline + Math.floor((i * spreadMs) / pendingCount),
      });
    }
    await store.addUsers([
      ...Array.from({ length: endedCount }, (_, i) => [`hc${i}`, `hi${i}`]).flat(),
      ...seeded.flatMap((call) => [call.caller, call.invitee]),
    ]);
    await writeCalls(store, ended);
    await writeCalls(
      store,
      seeded.map(({ callID, caller, invitee, deadline }) =>
        newCall(callID, caller, invitee, deadline - RING_SECONDS * 1000),
      ),
    );
  } finally {
    await store.close();
    // Fold the WAL into the database file, as a clean shutdown leaves it.
    const db = new Database(path);
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
  }
  return seeded;
}
