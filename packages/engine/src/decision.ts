// What the engine decides: the new call, the reply to the actor, and the events to deliver.
import type { BeckonError, CallEvent } from "@beckon/protocol";
import type { Call } from "./call.js";
import type { Fact } from "./facts.js";

/**
 * Which devices of a user get an event: one device, every device, or every device but one.
 * Only online devices receive; the server resolves the rest.
 */
export interface Audience {
  userID: string;
  device?: string;
  exceptDevice?: string;
}

export interface Delivery {
  to: Audience;
  event: CallEvent;
}

export type Decision<R> =
  | {
      ok: true;
      /** False when the command was a no-op: nothing to store, nothing to send. */
      changed: boolean;
      call: Call;
      reply: R;
      deliveries: Delivery[];
      /** What changed, for the outside world; stored with the call in the same commit. */
      facts: Fact[];
    }
  | { ok: false; error: BeckonError };
