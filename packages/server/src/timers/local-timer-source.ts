// The single-node TimerSource: the store's timers in a heap, one Node timer for the earliest.
// Several nodes in one process (tests) may share it; each due timer goes to one of them.
import type { CallStore, StoredTimer } from "../store/call-store.js";
import { TimerScheduler } from "./timer-scheduler.js";
import type { DueHandler, TimerSource } from "./timer-source.js";

export class LocalTimerSource implements TimerSource {
  private readonly scheduler: TimerScheduler;
  private readonly consumers: DueHandler[] = [];
  private next = 0;
  private loaded: Promise<number> | undefined;

  constructor(
    private readonly store: CallStore,
    clock: () => number = Date.now,
  ) {
    this.scheduler = new TimerScheduler((timer) => this.fire(timer), clock);
  }

  async start(onDue: DueHandler): Promise<number> {
    this.consumers.push(onDue);
    this.loaded ??= this.store.allTimers().then((timers) => {
      const byCall = new Map<string, StoredTimer[]>();
      for (const timer of timers) {
        const list = byCall.get(timer.callID);
        if (list) list.push(timer);
        else byCall.set(timer.callID, [timer]);
      }
      for (const [callID, list] of byCall) this.scheduler.replace(callID, list);
      return timers.length;
    });
    return this.loaded;
  }

  changed(callID: string, timers: readonly StoredTimer[]): void {
    this.scheduler.replace(callID, timers);
  }

  get pending(): number {
    return this.scheduler.pendingCalls;
  }

  stop(onDue: DueHandler): void {
    const index = this.consumers.indexOf(onDue);
    if (index >= 0) this.consumers.splice(index, 1);
    if (this.consumers.length === 0) this.scheduler.stop();
  }

  private fire(timer: StoredTimer): void {
    if (this.consumers.length === 0) return;
    const consumer = this.consumers[this.next++ % this.consumers.length] as DueHandler;
    void consumer(timer);
  }
}
