// The single-process Presence: a map of users to their sessions. With several nodes in one
// process (tests), they share one instance, as they would share Redis.
import type { DeviceRef, DeviceState, Presence } from "./presence.js";

export class MemoryPresence implements Presence {
  private readonly byUser = new Map<string, Map<string, DeviceState>>();

  async devicesOf(userID: string): Promise<DeviceState[]> {
    return this.devicesNow(userID);
  }

  devicesNow(userID: string): DeviceState[] {
    const devices = this.byUser.get(userID);
    return devices ? [...devices.values()] : [];
  }

  async join(device: DeviceState, maxDevices: number): Promise<DeviceState[]> {
    let devices = this.byUser.get(device.userID);
    if (!devices) {
      devices = new Map();
      this.byUser.set(device.userID, devices);
    }
    devices.set(device.deviceID, { ...device });
    const excess = devices.size - maxDevices;
    if (excess <= 0) return [];
    const evicted = [...devices.values()]
      .filter((other) => other.deviceID !== device.deviceID)
      .sort((a, b) => a.loginTime - b.loginTime)
      .slice(0, excess);
    for (const other of evicted) devices.delete(other.deviceID);
    return evicted;
  }

  async mark(device: DeviceRef, nodeID: string, awaySince: number): Promise<void> {
    const state = this.byUser.get(device.userID)?.get(device.deviceID);
    if (!state) return;
    state.nodeID = nodeID;
    state.awaySince = awaySince;
  }

  async touch(_devices: readonly DeviceRef[]): Promise<void> {
    // Sessions here die with the process; there is no lease to refresh.
  }

  async leave(device: DeviceRef, loginTime: number): Promise<void> {
    const devices = this.byUser.get(device.userID);
    if (devices?.get(device.deviceID)?.loginTime !== loginTime) return;
    devices.delete(device.deviceID);
    if (devices.size === 0) this.byUser.delete(device.userID);
  }

  /** Users with a session, up to `limit` (a development aid). */
  users(limit: number): string[] {
    return [...this.byUser.keys()].slice(0, limit);
  }

  async close(): Promise<void> {
    this.byUser.clear();
  }
}
