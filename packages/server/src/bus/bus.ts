// Fan-out of decided events to whichever node holds the target devices. At-most-once: the
// store is the source of truth, and a device that misses a message resyncs from it.
import type { Delivery } from "@beckon/engine";

export interface BusMessage {
  callID: string;
  deliveries: Delivery[];
}

export interface Bus {
  publish(message: BusMessage): Promise<void>;
  subscribe(handler: (message: BusMessage) => void): void;
  close(): Promise<void>;
}
