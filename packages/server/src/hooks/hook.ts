// The extension seam (Hocuspocus-style): webhooks, push, metrics and timelines plug in here.
// Facts come from the outbox in call-version order, at least once: `meta.id` is stable across
// retries, so a hook that must not act twice keys on it.
import type { Fact } from "@beckon/engine";
import type { DeviceRef } from "../presence/presence.js";

export interface FactMeta {
  /** `callID:version:index`, the same on every retry. */
  id: string;
  version: number;
}

export interface Hook {
  name: string;
  /** A thrown error makes the relay deliver this fact again later (and the ones after it). */
  onFact?(fact: Fact, meta: FactMeta): Promise<void>;
  /**
   * The facts of one relay round at once, in order (instead of `onFact`): a hook that writes
   * them somewhere does it in one transaction rather than one per fact.
   */
  onFacts?(batch: ReadonlyArray<{ fact: Fact; meta: FactMeta }>): Promise<void>;
  onConnect?(device: DeviceRef): Promise<void> | void;
  onDisconnect?(device: DeviceRef, reason: string): Promise<void> | void;
}
