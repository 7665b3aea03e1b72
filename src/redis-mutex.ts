import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClientType } from '@redis/client';
import { KeyedMutex } from './util/keyed-mutex.js';

/** A lock outlives a holder that died with it only this long; the work it guards takes milliseconds. */
const LOCK_TTL_MS = 5000;
const RETRY_MS = 10;
/** Waiting longer than this for a lock means something is wrong: the work fails rather than hangs. */
const WAIT_LIMIT_MS = 10_000;
const RELEASE_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * KeyedMutex across the processes of a Redis store, for read-modify-writes of keyv records
 * (indexes, annotations) that keyv cannot make atomic: a lock key per key, taken with SET NX
 * in sorted order and released only by its holder. Work of one process on a key queues in
 * memory first, so only processes, not their own commands, contend in Redis.
 */
export class RedisMutex {
  private readonly local = new KeyedMutex();

  constructor(private readonly client: RedisClientType) {}

  runExclusive<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    return this.local.runExclusive(keys, async () => {
      const token = randomUUID();
      const held: string[] = [];
      try {
        for (const key of [...new Set(keys)].sort()) {
          await this.acquire(`pika:mutex:${key}`, token);
          held.push(`pika:mutex:${key}`);
        }
        return await work();
      } finally {
        await Promise.allSettled(held.map((lock) => this.client.eval(RELEASE_IF_OURS, { keys: [lock], arguments: [token] })));
      }
    });
  }

  private async acquire(lock: string, token: string): Promise<void> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while ((await this.client.set(lock, token, { condition: 'NX', expiration: { type: 'PX', value: LOCK_TTL_MS } })) !== 'OK') {
      if (Date.now() > deadline) throw new Error(`waited over ${WAIT_LIMIT_MS} ms for the store lock ${lock}`);
      await sleep(RETRY_MS);
    }
  }
}
