import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { BotMetrics, STORE_OPERATIONS } from '../../src/ops/metrics.js';
import { timed } from '../../src/ops/timed.js';

class Records {
  #calls = 0;
  private connected = true;
  get open(): boolean {
    return this.connected;
  }
  async get(id: string): Promise<string> {
    await sleep(20);
    return this.read(id);
  }
  async fail(): Promise<never> {
    await sleep(20);
    throw new Error('store down');
  }
  /** Answers at once; what it wrote is stored a little later (or never). */
  async decide(fails = false): Promise<{ stored: Promise<void> }> {
    return { stored: sleep(30).then(() => (fails ? Promise.reject(new Error('never stored')) : undefined)) };
  }
  /** Decided at once, from memory (or, `fromStore`, once read): either way stored a little later. */
  decideMaybeAtOnce(fromStore = false, refuses = false): { stored: Promise<void> } | Promise<{ stored: Promise<void> }> {
    if (refuses) throw new Error('refused at once');
    const decided = { stored: sleep(30) };
    return fromStore ? sleep(10).then(() => decided) : decided;
  }
  read(id: string): string {
    this.#calls++;
    return `${id}#${this.#calls}`;
  }
  close(): void {
    this.connected = false;
  }
}

/** The value of one sample line of a scrape. */
const sample = (text: string, series: string) => Number(text.split('\n').find((line) => line.startsWith(`${series} `))?.slice(series.length + 1));

describe('timed: store methods timed at the composition root', () => {
  test('times each listed method until its promise settles, rejections included', async () => {
    const heard: Array<[string, number]> = [];
    const records = timed(new Records(), { get: 'job_get', fail: 'job_save' }, (operation, seconds) => heard.push([operation, seconds]));
    assert.equal(await records.get('a'), 'a#1');
    await assert.rejects(records.fail(), /store down/);
    assert.deepEqual(
      heard.map(([operation]) => operation),
      ['job_get', 'job_save'],
    );
    for (const [, seconds] of heard) assert.ok(seconds >= 0.015 && seconds < 1, `${seconds} s`);
  });

  test('a method whose work goes on after it answers is timed until that work is done', async () => {
    const heard: Array<[string, number]> = [];
    const records = timed(new Records(), { decide: { operation: 'usage_transact', until: (decided) => decided.stored } }, (operation, seconds) => heard.push([operation, seconds]));
    const decided = await records.decide();
    assert.equal(heard.length, 0, 'not yet: its writes are on their way');
    await decided.stored;
    const failed = await records.decide(true);
    await assert.rejects(failed.stored, /never stored/);
    await sleep(0);
    assert.deepEqual(
      heard.map(([operation]) => operation),
      ['usage_transact', 'usage_transact'],
    );
    for (const [, seconds] of heard) assert.ok(seconds >= 0.025, `${seconds} s`);
  });

  test('a method that may answer at once is timed either way, and its answer is handed back as it came', async () => {
    const heard: Array<[string, number]> = [];
    const records = timed(new Records(), { decideMaybeAtOnce: { operation: 'usage_transact', until: (decided) => decided.stored } }, (operation, seconds) => heard.push([operation, seconds]));
    const atOnce = records.decideMaybeAtOnce();
    assert.ok(!(atOnce instanceof Promise), 'not turned into a promise');
    const fromStore = records.decideMaybeAtOnce(true);
    assert.ok(fromStore instanceof Promise);
    await Promise.all([atOnce.stored, (await fromStore).stored]);
    await sleep(0);
    assert.deepEqual(
      heard.map(([operation]) => operation),
      ['usage_transact', 'usage_transact'],
    );
    for (const [, seconds] of heard) assert.ok(seconds >= 0.025, `${seconds} s`);
    assert.throws(() => records.decideMaybeAtOnce(false, true), /refused at once/);
    assert.equal(heard.length, 3, 'a call that throws at once is timed too');
  });

  test('leaves everything else as it was: bound to the target (private fields work), getters live, one function per method', () => {
    const heard: string[] = [];
    const target = new Records();
    const records = timed(target, { get: 'job_get' }, (operation) => heard.push(operation));
    const { read } = records;
    assert.equal(read('b'), 'b#1', 'an unlisted method runs on the target itself');
    assert.equal(records.open, true);
    records.close();
    assert.equal(records.open, false, 'a getter reads the target now');
    assert.equal(records.get, records.get);
    assert.deepEqual(heard, [], 'nothing unlisted is timed');
  });
});

describe('BotMetrics: the queue and the store', () => {
  test('the queue length is read at each scrape; every store operation is scraped from the start', async () => {
    let waiting = 3;
    const metrics = new BotMetrics({ jobsByState: () => ({ queued: waiting }), queueLength: () => waiting, breakerState: () => 'closed' });
    assert.equal(sample(await metrics.registry.metrics(), 'pika_queue_length'), 3);
    waiting = 0;
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'pika_queue_length'), 0);
    for (const operation of STORE_OPERATIONS) assert.equal(sample(text, `pika_store_operation_seconds_count{operation="${operation}"}`), 0, operation);

    const records = metrics.timedStore(new Records(), { get: 'job_get' });
    await records.get('c');
    const after = await metrics.registry.metrics();
    assert.equal(sample(after, 'pika_store_operation_seconds_count{operation="job_get"}'), 1);
    assert.ok(sample(after, 'pika_store_operation_seconds_sum{operation="job_get"}') >= 0.015);
  });
});
