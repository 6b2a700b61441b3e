// Sockets that have not logged in yet cost the node without telling it who they are: they are
// capped (in all and per remote address) and cut at the login deadline, a slice at a time.
import type { WebSocket } from "ws";
import { clampDelay } from "../long-timeout.js";
import { terminateInSlices } from "./socket-writer.js";

/** Sockets not yet logged in, over all addresses. */
export const MAX_PENDING_SOCKETS = 2_000;
/** Sockets not yet logged in from one remote address (behind a proxy: the proxy's). */
export const MAX_PENDING_PER_ADDRESS = 200;

interface Pending {
  socket: WebSocket;
  address: string;
  deadline: number;
}

export class ConnectionGuard {
  /** In order of arrival, so the earliest deadline is always first. */
  private readonly pending = new Map<WebSocket, Pending>();
  private readonly perAddress = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly loginTimeoutMs: number,
    private readonly onExpired: (count: number) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Why a new socket from `address` must be refused now, or null. */
  refusal(address: string): string | null {
    if (this.pending.size >= MAX_PENDING_SOCKETS) return "too many connections are logging in";
    if ((this.perAddress.get(address) ?? 0) >= MAX_PENDING_PER_ADDRESS) {
      return "too many connections from this address are logging in";
    }
    return null;
  }

  /** A new socket; it has until the login deadline to log in. */
  opened(socket: WebSocket, address: string): void {
    this.pending.set(socket, { socket, address, deadline: this.clock() + this.loginTimeoutMs });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    this.arm();
  }

  /** The socket logged in or closed: it no longer counts. */
  settled(socket: WebSocket): void {
    const entry = this.pending.get(socket);
    if (!entry) return;
    this.pending.delete(socket);
    const left = (this.perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(entry.address, left);
    else this.perAddress.delete(entry.address);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer || this.stopped) return;
    const first = this.pending.values().next();
    if (first.done) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.expire();
      },
      clampDelay(first.value.deadline - this.clock()),
    );
    this.timer.unref();
  }

  private expire(): void {
    const now = this.clock();
    const due: WebSocket[] = [];
    for (const entry of this.pending.values()) {
      if (entry.deadline > now) break;
      due.push(entry.socket);
      this.settled(entry.socket);
    }
    if (due.length > 0) {
      this.onExpired(due.length);
      terminateInSlices(due);
    }
    this.arm();
  }
}
