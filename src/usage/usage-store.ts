import type Keyv from 'keyv';

/** Writes applied in order; `undefined` deletes the key. */
export type Writes = Array<readonly [key: string, value: unknown]>;

/**
 * Where usage counters live. `transact` is the one operation the rules need: read some keys,
 * compute, write them back, with no other transaction on those keys in between. A shared
 * backend with atomic operations of its own (Redis WATCH/MULTI, SQL transactions) can implement
 * it for several bot processes; the rules don't change.
 */
export interface UsageBackend {
  transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T>;
  get(key: string): Promise<unknown>;
  /** Every key starting with `prefix`, with its value (used at start-up only). */
  list(prefix: string): Promise<Array<[string, unknown]>>;
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

/**
 * The in-process backend over keyv (SQLite by default). Transactions are serialized per key by a
 * KeyedMutex and run against an in-memory copy (this process is the only writer of its keys);
 * their writes then go to the store in group commits, and each transaction resolves only once
 * its own writes are stored. A burst of commands therefore costs a few batches of writes, not a
 * few writes each, and stays within Discord's 3-second window.
 *
 * A key rewritten while waiting moves to the end of the batch, so the last transaction to write
 * each key has its writes stored in the order it gave. A crash between two writes of a batch can
 * still leave a running id without its reservation record; start-up repairs those
 * (`UsageService.repair`).
 */
export class KeyvUsageBackend implements UsageBackend {
  private readonly mutex = new KeyedMutex();
  private readonly cache = new Map<string, unknown>();
  private readonly dirty = new Map<string, unknown>();
  private writing: Promise<void> = Promise.resolve();
  private nextCommit: Promise<void> | undefined;
  /** Bumped when a commit fails: batches computed before that hold state the store never got. */
  private epoch = 0;

  constructor(private readonly keyv: Keyv) {}

  async get(key: string): Promise<unknown> {
    if (this.cache.has(key)) return this.cache.get(key);
    return this.keyv.get(key);
  }

  async list(prefix: string): Promise<Array<[string, unknown]>> {
    await this.nextCommit?.catch(() => {});
    await this.writing;
    const entries: Array<[string, unknown]> = [];
    if (!this.keyv.iterator) throw new Error('the usage store cannot list its keys');
    for await (const [key, value] of this.keyv.iterator(undefined)) {
      if (typeof key === 'string' && key.startsWith(prefix)) entries.push([key, value]);
    }
    return entries;
  }

  async transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T> {
    const { result, committed } = await this.mutex.runExclusive(keys, async () => {
      const values = new Map(await Promise.all(keys.map(async (key) => [key, await this.read(key)] as const)));
      const { writes, result } = update(values);
      for (const [key, value] of writes) {
        this.cache.set(key, value);
        this.dirty.delete(key);
        this.dirty.set(key, value);
      }
      return { result, committed: writes.length > 0 ? this.commitSoon() : undefined };
    });
    await committed;
    return result;
  }

  /** The commit that will store what is dirty now: the next one not yet started. */
  private commitSoon(): Promise<void> {
    if (!this.nextCommit) {
      const epoch = this.epoch;
      const commit = this.writing.then(async () => {
        this.nextCommit = undefined;
        const batch = [...this.dirty];
        this.dirty.clear();
        if (epoch !== this.epoch) {
          this.cache.clear();
          throw new Error('an earlier write to the usage store failed; these changes were built on it');
        }
        try {
          for (const [key, value] of batch) {
            if (value === undefined) await this.keyv.delete(key);
            else await this.keyv.set(key, value);
          }
        } catch (error) {
          // The memory copy and anything waiting to be written are now ahead of the store:
          // drop them, fail their transactions, and read the store afresh from now on.
          this.epoch++;
          this.cache.clear();
          this.dirty.clear();
          throw error;
        }
      });
      this.writing = commit.catch(() => {});
      this.nextCommit = commit;
    }
    return this.nextCommit;
  }

  private async read(key: string): Promise<unknown> {
    if (this.cache.has(key)) return this.cache.get(key);
    const value = await this.keyv.get(key);
    this.cache.set(key, value);
    return value;
  }
}
