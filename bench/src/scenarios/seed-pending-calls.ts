// Writes pending invitations straight into a Beckon SQLite file, through the server's own store
// and the engine's own call builder, so the file is exactly what a server that rang them and
// then stopped would leave. (100 000 ringing calls need 100 000 callers, each busy in its own
// call: far more sockets than one machine may open, hence seeding instead of ringing.)
import { randomBytes } from "node:crypto";
import { createCall, defaultEngineSettings, timersOf } from "@beckon/engine";
import { CallInvitationMode } from "@beckon/sdk";
// Not part of @beckon/server's public entry; the built file is used as the server uses it.
import { SqliteCallStore } from "../../../packages/server/dist/store/sqlite-call-store.js";

export interface SeededCall {
  callID: string;
  caller: string;
  invitee: string;
  deadline: number;
}

const RING_SECONDS = 120;

/** Seeds `count` 1:1 calls whose deadlines are spread evenly over [firstDeadline, +spreadMs). */
export async function seedPendingCalls(
  path: string,
  count: number,
  firstDeadline: number,
  spreadMs: number,
): Promise<SeededCall[]> {
  const store = new SqliteCallStore(path);
  try {
    const seeded: SeededCall[] = [];
    for (let i = 0; i < count; i++) {
      seeded.push({
        callID: randomBytes(16).toString("base64url"),
        caller: `tc${i}`,
        invitee: `ti${i}`,
        deadline: firstDeadline + Math.floor((i * spreadMs) / count),
      });
    }
    await store.addUsers(seeded.flatMap((call) => [call.caller, call.invitee]));
    for (const [i, { callID, caller, invitee, deadline }] of seeded.entries()) {
      const decision = createCall(
        {
          type: "invite",
          actor: { userID: caller, deviceID: `seed-device-${i}` },
          callID,
          invitees: [invitee],
          timeout: RING_SECONDS,
          mode: CallInvitationMode.General,
          extendedData: "",
          knownUsers: new Set([invitee]),
          callerBusy: false,
        },
        deadline - RING_SECONDS * 1000,
        defaultEngineSettings,
      );
      if (!decision.ok) throw decision.error;
      await store.insertCall(decision.call, timersOf(decision.call, defaultEngineSettings));
    }
    return seeded;
  } finally {
    await store.close();
  }
}
