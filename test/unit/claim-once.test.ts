import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { LocalClaims } from '../../src/local-claims.js';
import { RedisStore } from '../../src/redis-store.js';
import { isStoreError } from '../../src/storage.js';
import { openStore } from '../../src/store.js';
import { createLogger } from '../../src/logger.js';
import { redisForSuite, redisMissing } from '../support/redis.js';

const skip = redisMissing();
const quiet = { connectionFailed: () => {}, notRecorded: () => {} };

describe('claim-once across two processes on a real Redis', { skip }, () => {
  const redis = redisForSuite();
  let stores: RedisStore[];

  before(async () => {
    stores = await Promise.all([RedisStore.open(redis.url, quiet), RedisStore.open(redis.url, quiet)]);
    stores.forEach((store) => redis.closeAfter(store));
  });

  test('the same key claimed at once through both: exactly one claim wins, and later ones lose', async () => {
    const [a, b] = stores;
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? b! : a!).claimOnce('interaction:1', 60_000)));
    assert.equal(claims.filter(Boolean).length, 1);
    assert.equal(await a!.claimOnce('interaction:1', 60_000), false);
    assert.equal(await b!.claimOnce('interaction:1', 60_000), false);
    assert.equal(await b!.claimOnce('interaction:2', 60_000), true, 'another key is its own');
  });

  test('the claim is a key under pika: that lapses after its time', async () => {
    const [a, b] = stores;
    assert.equal(await a!.claimOnce('interaction:3', 150), true);
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      const ttl = await admin.pTTL('pika:claim:interaction:3');
      assert.ok(ttl > 0 && ttl <= 150, `expires in ${ttl} ms`);
    } finally {
      await admin.close();
    }
    assert.equal(await b!.claimOnce('interaction:3', 150), false);
    const deadline = Date.now() + 2000;
    while (!(await b!.claimOnce('interaction:3', 150))) {
      assert.ok(Date.now() < deadline, 'the claim never lapsed');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  test('a Redis that does not answer: the claim rejects within a second, as a store error', async () => {
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'WRITE']);
      const started = Date.now();
      const error = await stores[0]!.claimOnce('interaction:4', 60_000).then(
        () => assert.fail('claimed while Redis was paused'),
        (error: unknown) => error,
      );
      assert.ok(isStoreError(error), String(error));
      assert.ok(Date.now() - started < 1500);
    } finally {
      await admin.sendCommand(['CLIENT', 'UNPAUSE']);
      await admin.close();
    }
  });
});

describe('claim-once on a SQLite store (one process)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pika-claims-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the store: the first claim wins, a duplicate in this process loses', async () => {
    const store = await openStore(`sqlite://${join(dir, 'pika.sqlite')}`, createLogger({ level: 'error', secrets: [] }));
    try {
      assert.equal(await store.claimOnce('interaction:1', 60_000), true);
      assert.equal(await store.claimOnce('interaction:1', 60_000), false);
      assert.equal(await store.claimOnce('interaction:2', 60_000), true);
    } finally {
      await store.close();
    }
  });

  test('a claim lapses after its time, and lapsed ones are swept out', () => {
    let clock = 0;
    const claims = new LocalClaims(() => clock);
    assert.equal(claims.claimOnce('k', 100), true);
    clock = 99;
    assert.equal(claims.claimOnce('k', 100), false);
    clock = 100;
    assert.equal(claims.claimOnce('k', 100), true);
    for (let i = 0; i < 2000; i++) claims.claimOnce(`other${i}`, 1);
    clock = 150;
    assert.equal(claims.claimOnce('k', 100), false, 'sweeping keeps claims still in force');
  });
});
