import { setTimeout as sleep } from 'node:timers/promises';
import { createClientPool, WatchError, type RedisClientPoolType } from '@redis/client';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { UsageBackend, Writes } from './usage-store.js';

/** A transaction another process got in before: it is run again on what that one wrote. */
const CONFLICT = Symbol('conflict');
const MAX_BACKOFF_MS = 20;

/**
 * The usage backend over Redis, exact across processes: each transaction WATCHes its keys on
 * a connection of its own (from a pool), reads them, computes its writes, and applies them in
 * one MULTI/EXEC, which Redis refuses if any watched key changed meanwhile; then it runs again
 * on the new values. Never a read-then-write that another process could slip between. Within
 * one process, transactions over the same keys queue (a KeyedMutex), so retries come only from
 * other processes. Values are JSON under `prefix`.
 */
export class RedisUsageBackend implements UsageBackend {
  private readonly mutex = new KeyedMutex();

  private constructor(
    private readonly pool: RedisClientPoolType,
    private readonly prefix: string,
  ) {}

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
    return this.mutex.runExclusive(keys, async () => {
      for (let attempt = 0; ; attempt++) {
        const outcome = await this.pool.execute((client) => this.attempt(client, keys, update));
        if (outcome !== CONFLICT) return outcome.result;
        await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 1 + attempt));
      }
    });
  }

  private async attempt<T>(
    client: Parameters<Parameters<RedisClientPoolType['execute']>[0]>[0],
    keys: readonly string[],
    update: (values: Map<string, unknown>) => { writes: Writes; result: T },
  ): Promise<{ result: T } | typeof CONFLICT> {
    const stored = keys.map((key) => this.prefix + key);
    await client.watch(stored);
    let computed: { writes: Writes; result: T };
    try {
      const raw = await client.mGet(stored);
      computed = update(new Map(keys.map((key, i) => [key, parse(raw[i])])));
    } catch (error) {
      await client.unwatch();
      throw error;
    }
    const multi = client.multi();
    for (const [key, value] of computed.writes) {
      if (value === undefined) multi.del(this.prefix + key);
      else multi.set(this.prefix + key, JSON.stringify(value));
    }
    try {
      if ((await multi.exec()) === null) return CONFLICT;
    } catch (error) {
      if (error instanceof WatchError) return CONFLICT;
      throw error;
    }
    return { result: computed.result };
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
