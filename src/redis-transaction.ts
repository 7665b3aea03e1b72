import { setTimeout as sleep } from 'node:timers/promises';
import { WatchError, type RedisClientPoolType } from '@redis/client';
import { KeyedMutex } from './util/keyed-mutex.js';

/** A connection of the pool, as `execute` lends it. */
export type PooledClient = Parameters<Parameters<RedisClientPoolType['execute']>[0]>[0];
/** The MULTI a step queues its writes on. */
export type Multi = ReturnType<PooledClient['multi']>;

/** What one try of a transaction read and decided: the writes to queue on its MULTI, and its result. */
export interface TransactionStep<T> {
  write: (multi: Multi) => void;
  result: T;
}

/** A transaction another process got in before: it is run again on what that one wrote. */
const CONFLICT = Symbol('conflict');
const MAX_BACKOFF_MS = 20;

/**
 * Read-modify-writes exact across processes, with Redis's own optimistic locking: each try
 * WATCHes its keys on a connection of its own (from the pool), reads and decides (`step`), and
 * applies its writes in one MULTI/EXEC, which Redis refuses if a watched key changed meanwhile;
 * then it tries again on the new values. Within one process, transactions over the same lock
 * keys queue (a KeyedMutex), so retries come only from other processes.
 */
export class RedisTransactions {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly pool: RedisClientPoolType) {}

  run<T>(lockKeys: readonly string[], watched: string[], step: (client: PooledClient) => Promise<TransactionStep<T>>): Promise<T> {
    return this.mutex.runExclusive(lockKeys, async () => {
      for (let attempt = 0; ; attempt++) {
        const outcome = await this.pool.execute((client) => this.attempt(client, watched, step));
        if (outcome !== CONFLICT) return outcome.result;
        await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 1 + attempt));
      }
    });
  }

  private async attempt<T>(client: PooledClient, watched: string[], step: (client: PooledClient) => Promise<TransactionStep<T>>): Promise<{ result: T } | typeof CONFLICT> {
    // Not awaited before the step: its reads follow WATCH on the same connection, in the same
    // write (node-redis pipelines what is sent in one tick), so they cost one round trip with it.
    const watching = client.watch(watched);
    let decided: TransactionStep<T>;
    try {
      [, decided] = await Promise.all([watching, step(client)]);
    } catch (error) {
      await client.unwatch().catch(() => {});
      throw error;
    }
    const multi = client.multi();
    decided.write(multi);
    try {
      if ((await multi.exec()) === null) return CONFLICT;
    } catch (error) {
      if (error instanceof WatchError) return CONFLICT;
      throw error;
    }
    return { result: decided.result };
  }
}
