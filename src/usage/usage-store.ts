import type Keyv from 'keyv';
import { deleteRows, upsertRows, type SqliteConnection } from '../sqlite-group-commit.js';
import type { Logger } from '../logger.js';
import { GroupCommits } from '../util/group-commits.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { MaybePromise } from '../util/maybe-promise.js';

/** Writes applied in order; `undefined` deletes the key. */
export type Writes = Array<readonly [key: string, value: unknown]>;

/**
 * Where usage counters live. `transact` is the one operation the rules need: read some keys,
 * compute, write them back, with no other transaction on those keys in between, and its writes
 * stored all together or not at all. A shared backend with atomic operations of its own (Redis
 * WATCH/MULTI, SQL transactions) can implement it for several bot processes; the rules don't
 * change.
 */
export interface UsageBackend {
  /**
   * `update` may change the values it is given in place, but only those it then writes: a
   * backend may hand it the very objects it keeps in memory.
   */
  transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T>;
  /**
   * `transact`, answered as soon as its result is decided: `stored` settles once its writes are
   * stored (and rejects if they never are). Later transactions on the same keys already see them.
   * A command's admission is decided this way so its reply can be deferred before the disk write.
   * A backend that holds the keys in memory may decide at once, with no promise to wait for.
   */
  decide<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): MaybePromise<Decided<T>>;
  get(key: string): Promise<unknown>;
  /** Every key starting with `prefix`, with its value: a scan of the store, for what no command waits on (migrations, moderators' reports). */
  list(prefix: string): Promise<Array<[string, unknown]>>;
}

export interface Decided<T> {
  result: T;
  stored: Promise<void>;
}

/**
 * The in-process backend over keyv on SQLite (@keyv/sqlite). Transactions are serialized per key
 * by a KeyedMutex and run against an in-memory copy (this process is the only writer of its
 * keys); their writes then go to the store in group commits, and each transaction resolves only
 * once its own writes are stored. A burst of commands therefore costs a few batches of writes,
 * not a few writes each, and stays within Discord's 3-second window.
 *
 * Each group commit stores its sets in one SQL statement, so a failed write or a crash stores all
 * of them or none: no transaction is ever stored in part.
 */
export class KeyvUsageBackend implements UsageBackend {
  private readonly mutex = new KeyedMutex();
  private readonly cache = new Map<string, unknown>();
  private readonly dirty = new Map<string, unknown>();
  private readonly sqlite: SqliteConnection;
  private readonly commits = new GroupCommits<void>();
  /** Bumped when a commit fails: batches computed before that hold state the store never got. */
  private epoch = 0;
  /**
   * Every key the store holds, listed once and kept up to date by each commit (this process is
   * the only writer): a key it lacks, such as a new user's, is not looked for on the disk, so
   * deciding that user's first reservation waits for no query.
   */
  private storedKeys: Promise<Set<string>> | undefined;
  /** The same set once listed: what lets a decision on a new user's keys be made at once. */
  private listedKeys: Set<string> | undefined;

  constructor(
    private readonly keyv: Keyv,
    private readonly logger?: Pick<Logger, 'debug'>,
  ) {
    const adapter = keyv.store as Partial<SqliteConnection> | undefined;
    if (typeof adapter?.query !== 'function' || !adapter.opts) {
      throw new Error('the usage store must be keyv over @keyv/sqlite: its group commits are single SQL statements');
    }
    // A write error that keyv swallowed would let the rest of the batch commit without it.
    if (!keyv.throwOnErrors) throw new Error('the usage store must be keyv with throwOnErrors');
    this.sqlite = adapter as SqliteConnection;
    // Listed while the bot starts, not at its first command.
    void this.listStoredKeys().catch(() => {});
  }

  async get(key: string): Promise<unknown> {
    if (this.cache.has(key)) return this.cache.get(key);
    return present(await this.keyv.get(key));
  }

  /** One query: keyv's own iterator pages with OFFSET, which takes quadratic time over a large store. */
  async list(prefix: string): Promise<Array<[string, unknown]>> {
    await this.commits.idle();
    const rows = await this.rowsUnder(prefix, 'key, value');
    const entries = await Promise.all(rows.map(async ({ key, value }) => [key, (await this.keyv.deserializeData(value))?.value] as [string, unknown]));
    return entries.filter(([, value]) => !isTombstone(value));
  }

  /** The rows whose key starts with `prefix`, in one query, with their keys as keyv is given them (no namespace). */
  private async rowsUnder(prefix: string, columns: 'key' | 'key, value'): Promise<Array<{ key: string; value: string }>> {
    const stored = this.storedKey(prefix);
    const namespaceLength = stored.length - prefix.length;
    // A range of the primary key's index, not a scan of the table: every key starting with the
    // prefix sorts from it up to it followed by the highest code point.
    const rows = await this.sqlite.query(`SELECT ${columns} FROM ${this.sqlite.opts.table} WHERE key >= ?1 AND key < ?1 || char(1114111)`, stored);
    return rows.map((row) => ({ ...row, key: row.key.slice(namespaceLength) }));
  }

  async transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T> {
    const { result, stored } = await this.decide(keys, update);
    await stored;
    return result;
  }

  /**
   * At once when every key is in memory and no transaction holds any of them: nothing can come
   * between its read and its write then, without a lock. Otherwise it queues for the keys.
   */
  decide<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): MaybePromise<Decided<T>> {
    if (this.mutex.isFree(keys) && keys.every((key) => this.knownNow(key))) {
      return this.apply(new Map(keys.map((key) => [key, this.cache.get(key)])), update);
    }
    return this.decideWhenRead(keys, update);
  }

  /** Whether the key's value is known without reading the store: in memory, or known absent from it. */
  private knownNow(key: string): boolean {
    return this.cache.has(key) || (this.listedKeys !== undefined && !this.listedKeys.has(key));
  }

  private async decideWhenRead<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<Decided<T>> {
    // Read what is not in memory yet before queueing for the keys: a read inside would wait
    // behind the commit under way on the same connection, and so would every transaction queued
    // after it, which then could no longer share a commit.
    await Promise.all(keys.map((key) => this.read(key)));
    return this.mutex.runExclusive(keys, async () => {
      const values = new Map(await Promise.all(keys.map(async (key) => [key, await this.read(key)] as const)));
      return this.apply(values, update);
    });
  }

  /** Runs `update` on `values` and keeps its writes in memory, for the next commit to store. */
  private apply<T>(values: Map<string, unknown>, update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Decided<T> {
    const { writes, result } = update(values);
    for (const [key, value] of writes) {
      this.cache.set(key, value);
      this.dirty.set(key, value);
    }
    return { result, stored: writes.length > 0 ? this.commitSoon() : Promise.resolve() };
  }

  /** The commit that will store what is dirty now: the next one not yet started. */
  private commitSoon(): Promise<void> {
    // The epoch when the commit was opened: transactions that join it later were computed on the same memory copy.
    const epoch = this.epoch;
    return this.commits.soon(async () => {
      const batch = [...this.dirty];
      this.dirty.clear();
      if (epoch !== this.epoch) {
        this.cache.clear();
        throw new Error('an earlier write to the usage store failed; these changes were built on it');
      }
      try {
        await this.storeAtomically(batch);
        const keys = await this.storedKeys?.catch(() => undefined);
        for (const [key, value] of batch) {
          if (value !== undefined) keys?.add(key);
          else if (keys) {
            keys.delete(key);
            // Known absent without it (a settled reservation's record, say): not kept in memory for ever.
            if (this.cache.get(key) === undefined && !this.dirty.has(key)) this.cache.delete(key);
          }
        }
      } catch (error) {
        // The memory copy and anything waiting to be written are now ahead of the store:
        // drop them, fail their transactions, and read the store afresh from now on.
        this.epoch++;
        this.cache.clear();
        this.dirty.clear();
        // Part of the batch may be stored (its sets, not its deletes): the keys are listed again.
        this.storedKeys = undefined;
        this.listedKeys = undefined;
        throw error;
      }
    });
  }

  /**
   * A batch's writes go in one SQL statement, which SQLite applies whole or not at all. A
   * transaction held open across several queries would instead keep the write lock while it
   * waits for a thread of libuv's small pool, which other connections' queries can all be
   * occupying while they wait for that same lock: a stall until the busy timeout.
   * A delete goes in that statement too, as a tombstone (null, which reads as absent), so a
   * settlement's counters and the end of its open record are stored together; the tombstones'
   * rows are then dropped. One that a crash (or a failed drop) leaves behind reads as absent,
   * and goes when its key is written again.
   */
  private async storeAtomically(batch: Array<[string, unknown]>): Promise<void> {
    const rows = await Promise.all(batch.map(async ([key, value]) => [this.storedKey(key), (await this.keyv.serializeData({ value: value ?? TOMBSTONE, expires: undefined })) as string] as const));
    await upsertRows(this.sqlite, rows);
    const deleted = batch.filter(([, value]) => value === undefined).map(([key]) => this.storedKey(key));
    await deleteRows(this.sqlite, deleted).catch((error: unknown) => this.logger?.debug('could not drop the rows of deleted usage records; they read as absent', { error }));
  }

  private listStoredKeys(): Promise<Set<string>> {
    if (!this.storedKeys) {
      const listing = this.rowsUnder('', 'key').then((rows) => new Set(rows.map(({ key }) => key)));
      listing.then(
        (keys) => {
          if (this.storedKeys === listing) this.listedKeys = keys;
        },
        // Listed again at the next read if this failed.
        () => {
          if (this.storedKeys === listing) this.storedKeys = undefined;
        },
      );
      this.storedKeys = listing;
    }
    return this.storedKeys;
  }

  /** The key as keyv stores it: prefixed with the namespace. */
  private storedKey(key: string): string {
    return this.keyv.useKeyPrefix && this.keyv.namespace ? `${this.keyv.namespace}:${key}` : key;
  }

  private async read(key: string): Promise<unknown> {
    if (this.cache.has(key)) return this.cache.get(key);
    const value = (await this.listStoredKeys()).has(key) ? present(await this.keyv.get(key)) : undefined;
    // A transaction may have written the key while this read was under way: its value is newer.
    if (!this.cache.has(key)) this.cache.set(key, value);
    return this.cache.get(key);
  }
}

/** What a deleted key holds until its row is dropped (usage values are never null). */
const TOMBSTONE = null;

function isTombstone(value: unknown): boolean {
  return value === TOMBSTONE;
}

function present(value: unknown): unknown {
  return isTombstone(value) ? undefined : value;
}
