// The devices logged in on this node, by user, and how an engine audience maps onto them.
import type { Audience } from "@beckon/engine";
import type { DeviceSession } from "./device-session.js";

export class DeviceRegistry {
  private readonly byUser = new Map<string, Map<string, DeviceSession>>();

  devicesOf(userID: string): DeviceSession[] {
    const devices = this.byUser.get(userID);
    return devices ? [...devices.values()] : [];
  }

  get(userID: string, deviceID: string): DeviceSession | undefined {
    return this.byUser.get(userID)?.get(deviceID);
  }

  /** Whether the device is logged in with a live socket (not just resumable). */
  isOnline(userID: string, deviceID: string): boolean {
    return this.get(userID, deviceID)?.isAttached ?? false;
  }

  /** Adds a session; the caller has already ended any earlier session of the same device. */
  add(session: DeviceSession): void {
    let devices = this.byUser.get(session.userID);
    if (!devices) {
      devices = new Map();
      this.byUser.set(session.userID, devices);
    }
    devices.set(session.deviceID, session);
  }

  /** Removes the session if it is still the current one of its device. */
  remove(session: DeviceSession): boolean {
    const devices = this.byUser.get(session.userID);
    if (devices?.get(session.deviceID) !== session) return false;
    devices.delete(session.deviceID);
    if (devices.size === 0) this.byUser.delete(session.userID);
    return true;
  }

  *resolve(audience: Audience): Iterable<DeviceSession> {
    const devices = this.byUser.get(audience.userID);
    if (!devices) return;
    if (audience.device !== undefined) {
      const device = devices.get(audience.device);
      if (device) yield device;
      return;
    }
    for (const device of devices.values()) {
      if (device.deviceID !== audience.exceptDevice) yield device;
    }
  }

  /** Users with at least one live socket, up to `limit` (a development aid, not a hot path). */
  onlineUsers(limit: number): string[] {
    const users: string[] = [];
    for (const [userID, devices] of this.byUser) {
      if (users.length >= limit) break;
      if ([...devices.values()].some((device) => device.isAttached)) users.push(userID);
    }
    return users;
  }

  *all(): Iterable<DeviceSession> {
    for (const devices of this.byUser.values()) yield* devices.values();
  }

  get size(): number {
    let count = 0;
    for (const devices of this.byUser.values()) count += devices.size;
    return count;
  }
}
