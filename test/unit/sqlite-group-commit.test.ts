import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Keyv from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import { GroupCommitSqlite } from '../../src/sqlite-group-commit.js';

describe('GroupCommitSqlite: keyv on SQLite, its writes stored in group commits', () => {
  let dir: string;
  let file = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pika-group-commit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh file, its adapter's statements counted; `fail` makes the statements it matches throw. */
  function open(uri = `sqlite://${join(dir, `${file++}.sqlite`)}`) {
    const adapter = new GroupCommitSqlite({ uri });
    const statements: string[] = [];
    const fail: { pattern?: RegExp } = {};
    const query = adapter.query;
    adapter.query = async (sql: string, ...parameters: unknown[]) => {
      statements.push(sql.trim().split(/\s+/)[0]!);
      if (fail.pattern?.test(sql)) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      return query(sql, ...parameters);
    };
    const keyv = new Keyv({ store: adapter, namespace: 'jobs', throwOnErrors: true });
    return { keyv, adapter, uri, statements, fail, writes: () => statements.filter((s) => s === 'INSERT' || s === 'DELETE').length };
  }

  /** Makes each commit's statement wait until the test lets it go on: the releases, in the order the commits came. */
  function holdInserts(adapter: GroupCommitSqlite): Array<() => void> {
    const held: Array<() => void> = [];
    const query = adapter.query;
    adapter.query = async (sql: string, ...parameters: unknown[]) => {
      if (sql.trim().startsWith('INSERT')) await new Promise<void>((resolve) => held.push(resolve));
      return query(sql, ...parameters);
    };
    return held;
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  test('a hundred writes at once take a statement or two, and every one is stored when it resolves', async () => {
    const { keyv, uri, writes } = open();
    await keyv.set('warm-up', 0); // the table exists before the burst
    const before = writes();
    await Promise.all(Array.from({ length: 100 }, (_, i) => keyv.set(`job-${i}`, { n: i, prompt: ':colon' })));
    assert.ok(writes() - before <= 2, `${writes() - before} statements`);
    await keyv.disconnect();
    // Read back through the plain adapter: the file holds them, as keyv would have stored them.
    const plain = new Keyv({ store: new KeyvSqlite({ uri }), namespace: 'jobs' });
    assert.deepEqual(await plain.get('job-99'), { n: 99, prompt: ':colon' });
    assert.equal((await plain.get<{ n: number }>('job-0'))?.n, 0);
    await plain.disconnect();
  });

  // At the adapter: keyv's own awaits could reorder calls made in the same turn.
  test('a read of a key being written waits for that write, and sees it', async () => {
    const { adapter } = open();
    await adapter.set('job', 'queued');
    const write = adapter.set('job', 'generating');
    assert.equal(await adapter.get('job'), 'generating');
    await write;
    assert.equal(await adapter.has('job'), true);
    assert.deepEqual(await adapter.getMany(['job', 'none']), ['generating', undefined]);
  });

  test('a key written again while its commit runs: reads wait for the newer write, not only the first', async () => {
    const { adapter } = open();
    await adapter.set('job', 'queued');
    const held = holdInserts(adapter);
    const first = adapter.set('job', 'starting');
    while (held.length < 1) await turn();
    const second = adapter.set('job', 'running'); // for the next commit
    held[0]!();
    await first;
    while (held.length < 2) await turn();
    let read: unknown = 'not yet';
    const reading = adapter.get('job').then((value) => (read = value));
    await turn();
    assert.equal(read, 'not yet', 'the read waits while the newer write is being stored');
    held[1]!();
    await reading;
    assert.equal(read, 'running');
    await second;
  });

  test('the last write of a key in a commit wins; deletes answer whether the key was there', async () => {
    const { adapter, writes } = open();
    await adapter.set('kept', '1');
    const before = writes();
    const [, , deletedKept, deletedNone] = await Promise.all([adapter.set('a', '1'), adapter.set('a', '2'), adapter.delete('kept'), adapter.delete('none')]);
    assert.equal(writes() - before, 2, 'one statement for the sets, one for the deletes');
    assert.equal(await adapter.get('a'), '2');
    assert.equal(deletedKept, true);
    assert.equal(deletedNone, false);
    assert.equal(await adapter.get('kept'), undefined);
    // Set and deleted before either was stored: it was there as far as the caller knows, and is gone.
    const [, deletedPending] = await Promise.all([adapter.set('brief', '1'), adapter.delete('brief')]);
    assert.equal(deletedPending, true);
    assert.equal(await adapter.get('brief'), undefined);
    assert.equal(await adapter.deleteMany(['a', 'none']), true);
    assert.equal(await adapter.get('a'), undefined);
  });

  test('a commit that fails fails each of its writes, and the next commit works', async () => {
    const { keyv, fail } = open();
    await keyv.set('before', 1);
    fail.pattern = /^INSERT/;
    const results = await Promise.allSettled([keyv.set('x', 1), keyv.set('y', 2)]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected'],
    );
    assert.match(String((results[0] as PromiseRejectedResult).reason), /disk I\/O error/);
    fail.pattern = undefined;
    assert.equal(await keyv.get('x'), undefined, 'a failed write reads as never made');
    await keyv.set('after', 3);
    assert.equal(await keyv.get('after'), 3);
    assert.equal(await keyv.get('before'), 1);
  });

  test('listing, clearing and disconnecting wait for the writes under way', async () => {
    const { keyv, adapter, uri, statements } = open();
    await keyv.set('before', 0); // the table exists
    // Under way for as long as the test says.
    const held = holdInserts(adapter);
    const heldCommit = async () => {
      while (held.length < 1) await turn();
      return held.shift()!;
    };
    const issued = (statement: string) => statements.filter((s) => s === statement).length;
    const aWhile = async () => {
      for (let i = 0; i < 20; i++) await turn();
    };
    // Straight to the adapter: keyv serializes a value over a few ticks before handing it on, so
    // a write made through keyv and not awaited has not reached the adapter yet.
    const write = (key: string, value: number) => adapter.set(`jobs:${key}`, JSON.stringify({ value }));

    const one = write('one', 1);
    let release = await heldCommit();
    const selects = issued('SELECT');
    const listed: string[] = [];
    const listing = (async () => {
      for await (const [key] of keyv.iterator!(undefined)) listed.push(String(key));
    })();
    await aWhile();
    assert.equal(issued('SELECT'), selects, 'nothing is listed while a write is under way');
    release();
    await Promise.all([one, listing]);
    assert.deepEqual(listed.sort(), ['before', 'one']);

    const three = write('three', 3);
    release = await heldCommit();
    const deletes = issued('DELETE');
    const clearing = keyv.clear();
    await aWhile();
    assert.equal(issued('DELETE'), deletes, 'nothing is cleared while a write is under way');
    release();
    await Promise.all([three, clearing]);
    assert.equal(await keyv.get('three'), undefined);

    // A write waiting for the next commit behind the one under way: disconnecting waits for both.
    const earlier = write('earlier', 4);
    release = await heldCommit();
    const last = write('last', 5);
    let disconnected = false;
    const disconnecting = keyv.disconnect().then(() => (disconnected = true));
    await aWhile();
    release();
    await earlier;
    release = await heldCommit();
    await aWhile();
    assert.equal(disconnected, false, 'still connected while the last write waits to be stored');
    release();
    await Promise.all([last, disconnecting]);
    const reopened = open(uri);
    assert.equal(await reopened.keyv.get('earlier'), 4);
    assert.equal(await reopened.keyv.get('last'), 5);
    await reopened.keyv.disconnect();
  });
});
