import { createClientPool, type RedisClientPoolType } from '@redis/client';
import { RedisTransactions, type Multi } from '../redis-transaction.js';
import type { Decided, UsageBackend, Writes } from './usage-store.js';

/**
 * The usage backend over Redis, exact across processes: each transaction is one optimistic
 * Redis transaction over its keys (RedisTransactions: WATCH, read, MULTI/EXEC, again on a
 * conflict), never a read-then-write that another process could slip between. Values are JSON
 * under `prefix`.
 */
export class RedisUsageBackend implements UsageBackend {
  private readonly transactions: RedisTransactions;

  private constructor(
    private readonly pool: RedisClientPoolType,
    private readonly prefix: string,
  ) {
    this.transactions = new RedisTransactions(pool);
  }

  /** Connects a pool of `size` connections to the Redis at `url`; `onError` hears of connection errors (it reconnects by itself). */
  static async connect(url: string, onError: (error: unknown) => void, { size = 8, prefix = 'pika:usage:' } = {}): Promise<RedisUsageBackend> {
    const pool: RedisClientPoolType = createClientPool({ url }, { minimum: 1, maximum: size });
    pool.on('error', onError);
    await pool.connect();
    return new RedisUsageBackend(pool, prefix);
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
          if (value === undefined) multi.del(this.prefix + key);
          else multi.set(this.prefix + key, JSON.stringify(value));
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

  /** Only the migration of stores from before the open-reservations index lists keys; a Redis store never was one. */
  list(prefix: string): Promise<Array<[string, unknown]>> {
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
}

function parse(raw: unknown): unknown {
  return typeof raw === 'string' ? JSON.parse(raw) : undefined;
}

/** Redis MATCH patterns treat these as wildcards; keys are matched literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
