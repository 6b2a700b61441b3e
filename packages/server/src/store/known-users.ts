// Users are only ever added to a store, never removed: once a user is known, that stays true,
// so an invite need not ask the database again about a callee it has seen. Only positive
// answers are kept (a user registered through another node a moment ago must not be missed),
// and at most `limit` of them; past that the set starts over.
export class KnownUsers {
  private readonly known = new Set<string>();

  constructor(private readonly limit = 100_000) {}

  /**
   * Which of `userIDs` are users: those remembered here, and of the others what `lookup` (the
   * store's query, asked only when some are left) finds, which is remembered from then on.
   */
  async filter(
    userIDs: readonly string[],
    lookup: (unknown: string[]) => Iterable<string> | Promise<Iterable<string>>,
  ): Promise<Set<string>> {
    const users = new Set<string>();
    const ask: string[] = [];
    for (const userID of userIDs) {
      if (this.known.has(userID)) users.add(userID);
      else ask.push(userID);
    }
    if (ask.length === 0) return users;
    for (const userID of await lookup(ask)) {
      if (this.known.size >= this.limit) this.known.clear();
      this.known.add(userID);
      users.add(userID);
    }
    return users;
  }
}
