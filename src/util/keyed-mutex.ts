/**
 * Runs async work one at a time per key. keyv has no atomic operations, so every transaction on
 * a key waits for the previous one: check-and-reserve is never a read-then-write across awaits
 * that another command could interleave with, and a job's writes land in the order they were
 * made. Valid within one process only.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Whether no work holds or waits for any of `keys`: work that does not yield may then run on them without the lock. */
  isFree(keys: readonly string[]): boolean {
    return keys.every((key) => !this.tails.has(key));
  }

  async runExclusive<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    // Locks are taken in sorted order so two transactions can't wait for each other.
    const sorted = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    for (const key of sorted) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const current = new Promise<void>((resolve) => (release = resolve));
      const tail = previous.then(() => current);
      this.tails.set(key, tail);
      releases.push(() => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
      await previous;
    }
    try {
      return await work();
    } finally {
      for (const release of releases) release();
    }
  }
}
