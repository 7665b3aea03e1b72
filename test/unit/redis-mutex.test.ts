import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient, type RedisClientType } from '@redis/client';
import { RedisMutex } from '../../src/redis-mutex.js';
import { redisForSuite, redisMissing } from '../support/redis.js';

describe('the store mutex of two processes on a real Redis', { skip: redisMissing() }, () => {
  const redis = redisForSuite();

  test('read-modify-writes through two mutexes lose nothing, and a key held elsewhere waits', async () => {
    const connect = async () => {
      const client: RedisClientType = redis.closeAfter(createClient({ url: redis.url }));
      await client.connect();
      return client;
    };
    const [a, b] = [await connect(), await connect()];
    const mutexes = [new RedisMutex(a), new RedisMutex(b)];
    // A list appended to by read, then write, with a pause between: without the mutex most appends are lost.
    const append = (mutex: RedisMutex, client: RedisClientType, value: number) =>
      mutex.runExclusive(['history'], async () => {
        const list = JSON.parse((await client.get('list')) ?? '[]') as number[];
        await new Promise((resolve) => setTimeout(resolve, 1));
        await client.set('list', JSON.stringify([...list, value]));
      });
    await Promise.all(Array.from({ length: 60 }, (_, i) => append(mutexes[i % 2]!, i % 2 ? b : a, i)));
    const list = JSON.parse((await a.get('list'))!) as number[];
    assert.deepEqual([...list].sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i));
    assert.equal(await a.keys('pika:mutex:*').then((keys) => keys.length), 0, 'every lock released');
  });
});
