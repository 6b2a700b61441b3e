// A call's timeline for the server API: every committed fact (who did what from which device,
// when), kept beside the call so the outbox can be trimmed.
import type { Fact } from "@beckon/engine";
import type { FactMeta, Hook } from "../hooks/hook.js";
import type { TimelineRecord, TimelineStore } from "./timeline-store.js";

export interface TimelineEntry {
  at: number;
  kind: Fact["kind"];
  userID?: string;
  /** The device that acted; absent when a timer did or the fact is about the whole call. */
  deviceID?: string;
  fact: Fact;
}

export class TimelineHook implements Hook {
  readonly name = "timeline";

  constructor(private readonly store: TimelineStore) {}

  /** One fact alone (the relay hands whole rounds to `onFacts`): a record of its own. */
  async onFact(fact: Fact, meta: FactMeta): Promise<void> {
    await this.store.append([
      { key: meta.id, callID: fact.callID, version: meta.version, at: fact.at, facts: [fact] },
    ]);
  }

  /** A relay round in one transaction, one record per commit (callID:version), not per fact. */
  async onFacts(batch: ReadonlyArray<{ fact: Fact; meta: FactMeta }>): Promise<void> {
    const commits = new Map<string, TimelineRecord>();
    for (const { fact, meta } of batch) {
      const key = `${fact.callID}:${meta.version}`;
      const commit = commits.get(key);
      if (commit) commit.facts.push(fact);
      else
        commits.set(key, {
          key,
          callID: fact.callID,
          version: meta.version,
          at: fact.at,
          facts: [fact],
        });
    }
    await this.store.append([...commits.values()]);
  }

  async of(callID: string): Promise<TimelineEntry[]> {
    const facts = await this.store.factsOf(callID);
    return facts.map((fact) => {
      const userID =
        "userID" in fact
          ? fact.userID
          : fact.kind === "call.created"
            ? fact.caller
            : fact.by?.userID;
      return {
        at: fact.at,
        kind: fact.kind,
        ...(userID !== undefined ? { userID } : {}),
        ...(fact.by?.deviceID ? { deviceID: fact.by.deviceID } : {}),
        fact,
      };
    });
  }

  /** Drops entries older than `time` (the calls' retention); returns how many. */
  async purgeBefore(time: number): Promise<number> {
    return this.store.purgeBefore(time);
  }
}
