/** A job waiting for a slot: whose it is, and when it was asked for (the order within a user). */
export interface QueueEntry {
  id: string;
  userId: string;
  at: number;
}

/**
 * The waiting jobs, served fairly: round-robin between users (a user who joins goes to the end
 * of the rotation), first come first served within each user, so no one can starve the others
 * by queueing many. Pure and in memory; the jobs themselves are durable records.
 */
export class FairQueue {
  private readonly byUser = new Map<string, QueueEntry[]>();
  /** Users in rotation order; `cursor` is the next one to serve. */
  private readonly users: string[] = [];
  private cursor = 0;

  get size(): number {
    let size = 0;
    for (const entries of this.byUser.values()) size += entries.length;
    return size;
  }

  has(id: string): boolean {
    return [...this.byUser.values()].some((entries) => entries.some((entry) => entry.id === id));
  }

  add(entry: QueueEntry): void {
    const entries = this.byUser.get(entry.userId);
    if (entries) {
      entries.push(entry);
      // Stable: two asked for in the same millisecond keep the order they were added in (the
      // order the commands came), where a tie broken by id would put them in a random one.
      entries.sort((a, b) => a.at - b.at);
      return;
    }
    this.byUser.set(entry.userId, [entry]);
    if (this.users.length === 0) {
      this.users.push(entry.userId);
      this.cursor = 0;
    } else {
      this.users.splice(this.cursor, 0, entry.userId);
      this.cursor++;
    }
  }

  /** The next job to start whose user `eligible` allows (their own limit may hold them back), without taking it. */
  next(eligible: (userId: string) => boolean = () => true): QueueEntry | undefined {
    for (let k = 0; k < this.users.length; k++) {
      const user = this.users[(this.cursor + k) % this.users.length]!;
      if (eligible(user)) return this.byUser.get(user)![0];
    }
    return undefined;
  }

  /** Takes a job that starts: its user's turn is over for this round. */
  take(id: string): void {
    this.removeEntry(id, true);
  }

  /** Takes a job that leaves the queue without starting (cancelled, refused): nobody's turn changes. */
  remove(id: string): boolean {
    return this.removeEntry(id, false);
  }

  /** Every waiting job in the order it would start if nothing held anyone back: what positions are shown from. */
  order(): QueueEntry[] {
    const rotation = this.users.map((_, k) => this.byUser.get(this.users[(this.cursor + k) % this.users.length]!)!);
    const ordered: QueueEntry[] = [];
    for (let round = 0; ordered.length < this.size; round++) {
      for (const entries of rotation) if (entries[round]) ordered.push(entries[round]!);
    }
    return ordered;
  }

  private removeEntry(id: string, served: boolean): boolean {
    for (const [user, entries] of this.byUser) {
      const index = entries.findIndex((entry) => entry.id === id);
      if (index === -1) continue;
      entries.splice(index, 1);
      const at = this.users.indexOf(user);
      if (entries.length === 0) {
        this.byUser.delete(user);
        this.users.splice(at, 1);
        // The user after them moves into their place: next if they were served, else the cursor keeps its user.
        if (served) this.cursor = at;
        else if (at < this.cursor) this.cursor--;
      } else if (served) {
        this.cursor = at + 1;
      }
      if (this.users.length > 0) this.cursor %= this.users.length;
      else this.cursor = 0;
      return true;
    }
    return false;
  }
}
