// Logs and metrics from committed facts: one line per call created and ended (with its members,
// outcome and duration), ring outcomes and receipt latency, login and disconnect lines. It plugs
// into the same seam as webhooks and push, so what it reports is exactly what was committed.
import type { Fact } from "@beckon/engine";
import { CallInvitationMode } from "@beckon/protocol";
import type { Logger } from "pino";
import type { BeckonMetrics, RingOutcome } from "../metrics.js";
import type { Hook } from "./hook.js";

/** What the hook remembers of a running call until it ends. */
interface Running {
  mode: "general" | "advanced";
  createTime: number;
  members: Set<string>;
  outcomes: Map<string, RingOutcome>;
}

/** Calls remembered at most; a node restarted mid-call logs its end without the details. */
const MAX_RUNNING = 50_000;

const outcomeOf: Partial<Record<Fact["kind"], RingOutcome>> = {
  "member.accepted": "accepted",
  "member.rejected": "rejected",
  "member.cancelled": "cancelled",
  "member.timedOut": "timeout",
};

const modeName = (mode: CallInvitationMode) =>
  mode === CallInvitationMode.Advanced ? "advanced" : "general";

export function observabilityHook(metrics: BeckonMetrics, log: Logger): Hook {
  const running = new Map<string, Running>();
  return {
    name: "observability",
    async onFact(fact) {
      const call = running.get(fact.callID);
      switch (fact.kind) {
        case "call.created": {
          metrics.onCallCreated(modeName(fact.mode));
          running.set(fact.callID, {
            mode: modeName(fact.mode),
            createTime: fact.at,
            members: new Set([fact.caller]),
            outcomes: new Map(),
          });
          if (running.size > MAX_RUNNING) {
            const oldest = running.keys().next().value;
            if (oldest !== undefined) running.delete(oldest);
          }
          log.info(
            { callID: fact.callID, mode: modeName(fact.mode), caller: fact.caller },
            "call created",
          );
          return;
        }
        case "call.ended": {
          metrics.onCallEnded(modeName(fact.mode));
          running.delete(fact.callID);
          log.info(
            {
              callID: fact.callID,
              mode: modeName(fact.mode),
              members: call ? [...call.members] : undefined,
              outcome: call ? Object.fromEntries(call.outcomes) : undefined,
              durationMs: call ? fact.at - call.createTime : undefined,
            },
            "call ended",
          );
          return;
        }
        default: {
          call?.members.add(fact.userID);
          if (fact.kind === "member.received" && call) {
            metrics.observeReceipt(fact.at - call.createTime);
          }
          const outcome = outcomeOf[fact.kind];
          if (outcome && !call?.outcomes.has(fact.userID)) {
            metrics.onRingEnded(outcome);
            call?.outcomes.set(fact.userID, outcome);
          }
        }
      }
    },
    onConnect(device) {
      metrics.onLogin();
      log.info({ userID: device.userID, deviceID: device.deviceID }, "login");
    },
    onDisconnect(device, reason) {
      metrics.onSessionEnded("lost");
      log.info({ userID: device.userID, deviceID: device.deviceID, reason }, "device gone");
    },
  };
}
