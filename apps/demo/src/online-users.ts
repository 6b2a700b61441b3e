// Who is online, from the server's development-only `GET /dev/online`. Polled while the page is
// visible; in production mode the endpoint does not exist and the list stays empty.

const endpoint = "/dev/online";
const pollEveryMs = 3_000;

export class OnlineUsers {
  private users = new Set<string>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly onVisibility = () => {
    if (document.visibilityState === "visible") void this.refresh();
  };

  constructor(private readonly onChange: () => void) {}

  /** Starts polling (development mode only). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      if (document.visibilityState === "visible") void this.refresh();
    }, pollEveryMs);
    document.addEventListener("visibilitychange", this.onVisibility);
    void this.refresh();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  list(): ReadonlySet<string> {
    return this.users;
  }

  /** Asks the server now (e.g. right after signing in). */
  async refresh(): Promise<void> {
    try {
      const response = await fetch(endpoint);
      if (!response.ok) return;
      const body = (await response.json()) as { userIDs?: unknown };
      if (!Array.isArray(body.userIDs)) return;
      const next = new Set(body.userIDs.filter((id): id is string => typeof id === "string"));
      const changed = next.size !== this.users.size || [...next].some((id) => !this.users.has(id));
      this.users = next;
      if (changed) this.onChange();
    } catch {
      // The server is away; the connection badge already says so.
    }
  }
}
