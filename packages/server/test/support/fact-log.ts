// A hook that records the facts a node commits, so tests can wait for "the call ended" or
// "bob timed out" as events instead of sleeping.
import type { Fact } from "@beckon/engine";
import type { Hook } from "@beckon/server";

export class FactLog {
  readonly facts: Fact[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly hook: Hook = {
    name: "fact-log",
    onFact: async (fact) => {
      this.facts.push(fact);
      for (const wake of this.waiters.splice(0)) wake();
    },
  };

  /** Resolves with the first fact (recorded or yet to come) that matches. */
  async waitFor(match: (fact: Fact) => boolean, timeoutMs = 10_000): Promise<Fact> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.facts.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no matching fact within ${timeoutMs} ms; got ${JSON.stringify(this.facts.map((f) => f.kind))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
