// Who is logged in where, for every node: the sessions of each user (attached to a socket or
// waiting to be resumed), which node holds them, and since when they are away.

export interface DeviceRef {
  userID: string;
  deviceID: string;
}

export interface DeviceState extends DeviceRef {
  /** The node whose socket the device is on, or was on last. */
  nodeID: string;
  loginTime: number;
  /** 0 while a socket is attached; else when the device went away (epoch ms). */
  awaySince: number;
}

export interface LostNode {
  devices: DeviceState[];
  /** Calls with a decision committed, perhaps, and its events perhaps never published. */
  calls: string[];
}

export interface Presence {
  /** The user's sessions, attached or resumable. */
  devicesOf(userID: string): Promise<DeviceState[]>;
  /**
   * The same, answered from this process's memory: a presence that can, has it (one that
   * caches answers what it has cached, else undefined).
   */
  devicesNow?(userID: string): DeviceState[] | undefined;
  /**
   * Registers a session (replacing an earlier one of the same device) and enforces the per-user
   * device cap atomically: returns the sessions pushed out, oldest first.
   */
  join(device: DeviceState, maxDevices: number): Promise<DeviceState[]>;
  /** The device's socket is attached (`awaySince` 0) or went away at `awaySince`. */
  mark(device: DeviceRef, nodeID: string, awaySince: number): Promise<void>;
  /** Refreshes the session's lease (heartbeats); sessions whose node stops refreshing expire. */
  touch(devices: readonly DeviceRef[]): Promise<void>;
  /** Removes the session if it still belongs to `loginTime` (a newer login of the device stays). */
  leave(device: DeviceRef, loginTime: number): Promise<void>;
  /**
   * Cluster presence only: `listener` gets what a node that stopped renewing its sessions (it
   * died or lost Redis) left: its sessions, which this node took over as away, so their resume
   * windows, lost callers and vanished members are looked after here instead of lapsing
   * unnoticed; and the calls it was committing a decision of whose events it may not have
   * published, whose members' devices must resync.
   */
  onNodeLost?(listener: (lost: LostNode) => Promise<void>): void;
  /**
   * Cluster presence only: `listener` gets this node's sessions that had gone missing from the
   * shared presence (Redis lost its data, or stalled past their leases) and were put back. While
   * they were missing, other nodes published their events to nobody: the devices must resync.
   */
  onSessionsRestored?(listener: (devices: DeviceState[]) => Promise<void>): void;
  /**
   * Cluster presence only: this node is about to commit a decision of the call, and publishes
   * its events after. Resolves once recorded; a node lost before `commitPublished` leaves it.
   */
  commitStarted?(callID: string): Promise<void>;
  /** The decision's events are published (or there were none, or the commit failed). */
  commitPublished?(callID: string): void;
  close(): Promise<void>;
}
