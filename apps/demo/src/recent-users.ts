// "Recent users": user IDs this browser has seen (its own sign-ins, callers, invitees, history),
// kept in localStorage: the names a person used here, whether or not they are online.

const storageKey = "beckon-demo/recent-users";
const maxEntries = 30;

export interface RecentUser {
  userID: string;
  /** Epoch ms of the last time this browser saw the user. */
  lastSeen: number;
}

function read(): RecentUser[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(storageKey) ?? "[]");
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (entry): entry is RecentUser =>
        typeof entry?.userID === "string" && typeof entry?.lastSeen === "number",
    );
  } catch {
    return [];
  }
}

function write(entries: RecentUser[]): void {
  try {
    localStorage.setItem(storageKey, JSON.stringify(entries.slice(0, maxEntries)));
  } catch {
    // Storage full or disabled (private mode): the list is a convenience, the page works without.
  }
}

export class RecentUsers {
  private readonly onStorage = (event: StorageEvent) => {
    if (event.key === storageKey) this.onChange();
  };

  /** `onChange` runs when another tab of this browser changes the list. */
  constructor(private readonly onChange: () => void) {
    window.addEventListener("storage", this.onStorage);
  }

  /** Newest first. */
  list(): RecentUser[] {
    return read().sort((a, b) => b.lastSeen - a.lastSeen);
  }

  remember(userIDs: Iterable<string>, now = Date.now()): void {
    const byID = new Map(read().map((entry) => [entry.userID, entry]));
    let changed = false;
    for (const userID of userIDs) {
      const known = byID.get(userID);
      // A minute's precision is plenty and keeps tabs from rewriting storage on every event.
      if (known && now - known.lastSeen < 60_000) continue;
      byID.set(userID, { userID, lastSeen: now });
      changed = true;
    }
    if (!changed) return;
    write([...byID.values()].sort((a, b) => b.lastSeen - a.lastSeen));
    this.onChange();
  }

  forget(userID: string): void {
    write(read().filter((entry) => entry.userID !== userID));
    this.onChange();
  }

  dispose(): void {
    window.removeEventListener("storage", this.onStorage);
  }
}
