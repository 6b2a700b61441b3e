// Users are only ever added to a store, never removed: once a user is known, that stays true,
// so an invite need not ask the database again about a callee it has seen. Only positive
// answers are kept (a user registered through another node a moment ago must not be missed),
// and at most `limit` of them; past that the set starts over.
export class KnownUsers {
  private readonly known = new Set<string>();

  constructor(private readonly limit = 100_000) {}

  /** `userIDs` split into those known here and those to ask the store about. */
  split(userIDs: readonly string[]): { known: string[]; ask: string[] } {
    const known: string[] = [];
    const ask: string[] = [];
    for (const userID of userIDs) (this.known.has(userID) ? known : ask).push(userID);
    return { known, ask };
  }

  remember(userIDs: Iterable<string>): void {
    for (const userID of userIDs) {
      if (this.known.size >= this.limit) this.known.clear();
      this.known.add(userID);
    }
  }
}
