import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sqlite3 from 'sqlite3';
import Keyv from 'keyv';
import { Storage, StoreInUseError, serializeAsKeyvDoes } from '../../src/storage.js';

describe('the store is opened by one holder at a time', () => {
  let dir: string;
  let path: string;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pika-store-lock-'));
    path = join(dir, 'pika.sqlite');
    url = `sqlite://${path}`;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a second open is refused, naming the holder; once the holder closes, it succeeds', async () => {
    const first = await Storage.open(url);
    await first.namespace('usage').set('day', 3);

    const refusal = await Storage.open(url).then(
      () => assert.fail('opened a store that is in use'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof StoreInUseError);
    assert.equal(refusal.holder?.pid, process.pid);
    assert.equal(refusal.holder?.host, hostname());
    assert.equal(refusal.message, `the store at ${path} is in use by process ${process.pid} on host ${hostname()} (since ${refusal.holder?.since}); stop it or point STORE_URL elsewhere`);
    assert.equal(await first.namespace('usage').get('day'), 3, 'the holder still works');

    await first.close();
    const second = await Storage.open(url);
    assert.equal(await second.namespace('usage').get('day'), 3);
    await second.close();
  });

  test('a holder that has not recorded itself (another program, or a bot just starting) is "another process"', async () => {
    const freshPath = join(dir, 'fresh.sqlite');
    const lock = await new Promise<sqlite3.Database>((resolve, reject) => {
      const database: sqlite3.Database = new sqlite3.Database(`${freshPath}.lock`, (error) => (error ? reject(error) : resolve(database)));
    });
    await new Promise<void>((resolve, reject) => lock.run('BEGIN IMMEDIATE', (error) => (error ? reject(error) : resolve())));
    try {
      await assert.rejects(Storage.open(`sqlite://${freshPath}`), {
        name: 'StoreInUseError',
        message: `the store at ${freshPath} is in use by another process; stop it or point STORE_URL elsewhere`,
      });
    } finally {
      await new Promise((resolve) => lock.close(resolve));
    }
  });
});

describe('the stored format', () => {
  test('records are written exactly as keyv’s own serializer writes them, so old and new records read back the same', async () => {
    const keyvDefault = new Keyv().serialize!;
    const samples: unknown[] = [
      { value: { prompt: ':) a cat', parts: [':start', 'mid:dle', '::', ''], n: 1.5, none: null, skipped: undefined, nested: { at: new Date(0) } }, expires: undefined },
      { value: [1, null, 'x'], expires: 1700000000000 },
      { value: 'plain', expires: null },
      { value: { day: '2026-12-01', running: ['a', 'b'], time: '12:00' }, expires: undefined },
      { value: { ':key': 'v', 'a,': [':x', 'y'], 'b[': ':z' }, expires: undefined },
      ':top',
      [':first', 'second'],
    ];
    for (const sample of samples) {
      const written = serializeAsKeyvDoes(sample);
      assert.equal(written, await keyvDefault(sample as never));
      assert.deepEqual(await new Keyv().deserialize!(written), JSON.parse(JSON.stringify(sample)), 'reads back as it was given');
    }
  });
});
