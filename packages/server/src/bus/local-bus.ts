// The single-node bus: hands each message to this process's gateway synchronously, in order.
import type { Bus, BusMessage } from "./bus.js";

export class LocalBus implements Bus {
  private readonly handlers: Array<(message: BusMessage) => void> = [];

  async publish(message: BusMessage): Promise<void> {
    for (const handler of this.handlers) handler(message);
  }

  subscribe(handler: (message: BusMessage) => void): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    this.handlers.length = 0;
  }
}
