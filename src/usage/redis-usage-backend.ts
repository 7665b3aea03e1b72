import { createClientPool, type RedisClientPoolType } from '@redis/client';
import { RedisTransactions, type Multi } from '../redis-transaction.js';
import type { Decided, UsageBackend, Writes } from './usage-store.js';

/**
 * The usage backend over Redis, exact across processes: each transaction is one optimistic
 * Redis transaction over its keys (RedisTransactions: WATCH, read, MULTI/EXEC, again on a
 * conflict), never a read-then-write that another process could slip between. Values are JSON
 * under `prefix`.
 *
 * The keys under each of `listedPrefixes` are also members of a set, changed in the same MULTI
 * as they are, so that listing them (the open reservations, at every reconciliation) reads that
 * set instead of scanning the whole keyspace.
 */
export class RedisUsageBackend implements UsageBackend {
  private readonly transactions: RedisTransactions;

  private constructor(
    private readonly pool: RedisClientPoolType,
    private readonly prefix: string,
    private readonly listedPrefixes: readonly string[],
  ) {
    this.transactions = new RedisTransactions(pool);
  }

  /** Connects a pool of `size` connections to the Redis at `url`; `onError` hears of connection errors (it reconnects by itself). */
  static async connect(
    url: string,
    onError: (error: unknown) => void,
    { size = 8, prefix = 'pika:usage:', listedPrefixes = [] as readonly string[] } = {},
  ): Promise<RedisUsageBackend> {
    const pool: RedisClientPoolType = createClientPool({ url }, { minimum: 1, maximum: size });
    pool.on('error', onError);
    await pool.connect();
    return new RedisUsageBackend(pool, prefix, listedPrefixes);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T> {
    const stored = keys.map((key) => this.prefix + key);
    return this.transactions.run(keys, stored, async (client) => {
      const raw = await client.mGet(stored);
      const { writes, result } = update(new Map(keys.map((key, i) => [key, parse(raw[i])])));
      const write = (multi: Multi) => {
        for (const [key, value] of writes) {
          const listing = this.listingOf(key);
          if (value === undefined) {
            multi.del(this.prefix + key);
            if (listing) multi.sRem(listing, key);
          } else {
            multi.set(this.prefix + key, JSON.stringify(value));
            if (listing) multi.sAdd(listing, key);
          }
        }
      };
      return { write, result };
    });
  }

  /** Decided and stored are one step here: EXEC applies the writes before it answers. */
  async decide<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<Decided<T>> {
    return { result: await this.transact(keys, update), stored: Promise.resolve() };
  }

  async get(key: string): Promise<unknown> {
    return parse(await this.pool.get(this.prefix + key));
  }

  /** Under a listed prefix, the members of its set; else a SCAN of the keyspace (moderators' reports, migrations). */
  list(prefix: string): Promise<Array<[string, unknown]>> {
    if (this.listedPrefixes.includes(prefix)) return this.listed(prefix);
    const pattern = `${escapeGlob(this.prefix + prefix)}*`;
    return this.pool.execute(async (client) => {
      const found: Array<[string, unknown]> = [];
      for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
        if (keys.length === 0) continue;
        const values = await client.mGet(keys);
        keys.forEach((key, i) => found.push([key.slice(this.prefix.length), parse(values[i])]));
      }
      return found;
    });
  }

  private async listed(prefix: string): Promise<Array<[string, unknown]>> {
    const keys = await this.pool.sMembers(this.listingOf(prefix)!);
    const found: Array<[string, unknown]> = [];
    for (let i = 0; i < keys.length; i += MGET_CHUNK) {
      const chunk = keys.slice(i, i + MGET_CHUNK);
      const values = await this.pool.mGet(chunk.map((key) => this.prefix + key));
      chunk.forEach((key, j) => {
        const value = parse(values[j]);
        if (value !== undefined) found.push([key, value]);
      });
    }
    return found;
  }

  /** The set that lists `key`, if it is under a listed prefix: beside the values, not among them. */
  private listingOf(key: string): string | undefined {
    const listed = this.listedPrefixes.find((prefix) => key.startsWith(prefix));
    return listed === undefined ? undefined : `${this.prefix}listed:${listed}`;
  }
}

/** The most keys one MGET asks for. */
const MGET_CHUNK = 1000;

function parse(raw: unknown): unknown {
  return typeof raw === 'string' ? JSON.parse(raw) : undefined;
}

/** Redis MATCH patterns treat these as wildcards; keys are matched literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
