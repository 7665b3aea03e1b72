import type Keyv from 'keyv';

/**
 * Where usage counters live. `transact` is the one operation the rules need: read some keys,
 * compute, write them back, with no other transaction on those keys in between. A shared
 * backend with atomic operations of its own (Redis WATCH/MULTI, SQL transactions) can implement
 * it for several bot processes; the rules don't change.
 */
export interface UsageBackend {
  transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Map<string, unknown>; result: T }): Promise<T>;
  get(key: string): Promise<unknown>;
}

/**
 * Runs async work one at a time per key. keyv has no atomic operations, so every transaction on
 * a key waits for the previous one: check-and-reserve is never a read-then-write across awaits
 * that another command could interleave with. Valid within one process only.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

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

/** The in-process backend over keyv (SQLite by default), serialized by a KeyedMutex. */
export class KeyvUsageBackend implements UsageBackend {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly keyv: Keyv) {}

  get(key: string): Promise<unknown> {
    return this.keyv.get(key);
  }

  transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Map<string, unknown>; result: T }): Promise<T> {
    return this.mutex.runExclusive(keys, async () => {
      const stored = await Promise.all(keys.map((key) => this.keyv.get(key)));
      const { writes, result } = update(new Map(keys.map((key, i) => [key, stored[i]])));
      for (const [key, value] of writes) await this.keyv.set(key, value);
      return result;
    });
  }
}
