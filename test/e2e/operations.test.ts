import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { askForVideo, newUserId, videoFor } from '../support/users.js';
import { eventually, eventuallyAsync, startWorld, waitSettled, type World } from '../support/world.js';

/** The value of a Prometheus sample line `name{labels} value` in `text`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A task that stays at the provider for about `steps` polls (40 ms each in tests). */
const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 1 + i })), { status: 'finished', progress: 100 }];
const promptsSent = (world: World) => world.pika.generateCalls.map((call) => (call.body as { promptText?: string }).promptText);

describe('operations endpoints: /health, /ready and /metrics (METRICS_PORT)', () => {
  let world: World;
  let base: string;
  const scrape = async () => {
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  before(async () => {
    // One task at the provider at a time, so a second command waits in the queue.
    world = await startWorld({ METRICS_PORT: '0', PIKA_MAX_CONCURRENT: '1' });
    const listening = world.bot.entries.find((entry) => entry.msg === 'operations endpoints listening')!;
    assert.equal(listening.host, '127.0.0.1', 'loopback unless METRICS_HOST says otherwise');
    base = `http://127.0.0.1:${String(listening.port)}`;
  });
  after(async () => {
    await world?.close();
  });

  test('/health answers while the process is up; /ready once the gateway and the store are', async () => {
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${base}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, checks: { gateway: true, store: true } });
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
  });

  test('a scrape after real jobs counts them: generate calls, feed polls, Discord requests, delivery latency, job ends, the breaker', async () => {
    const before = await (await fetch(`${base}/metrics`)).text();
    const generated = sample(before, 'pika_generate_calls_total{outcome="accepted"}') ?? 0;
    for (let i = 0; i < 2; i++) await videoFor(world, newUserId(), `scraped ${i}`);
    // A job is counted as ended just after its video is shown.
    let text = await scrape();
    await eventuallyAsync(async () => (sample((text = await scrape()), 'pika_jobs_ended_total{state="delivered"}') ?? 0) >= 2, 5000, 'both jobs counted as ended');
    assert.equal(sample(text, 'pika_generate_calls_total{outcome="accepted"}'), generated + 2);
    assert.ok((sample(text, 'pika_feed_polls_total{outcome="ok"}') ?? 0) >= 2);
    assert.ok((sample(text, 'pika_jobs_ended_total{state="delivered"}') ?? 0) >= 2);
    assert.ok((sample(text, 'pika_delivery_latency_seconds_count') ?? 0) >= 2);
    assert.ok((sample(text, 'discord_requests_total{status="2xx"}') ?? 0) > 0);
    assert.equal(sample(text, 'pika_breaker_state{state="closed"}'), 1);
    assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0, "Node's default metrics");
  });

  test('the queue and the store in a scrape: a job that waited for the provider’s one slot, and every store operation timed', async () => {
    const wait = (text: string, part: string) => sample(text, `pika_queue_wait_seconds_${part}`) ?? 0;
    const ended = (text: string) => sample(text, 'pika_jobs_ended_total{state="delivered"}') ?? 0;
    const before = await scrape();
    assert.equal(sample(before, 'pika_queue_length'), 0);

    world.pika.nextTask({ feed: slowFeed(12) });
    const first = await askForVideo(world, newUserId(), 'metrics first');
    await eventually(() => promptsSent(world).includes('metrics first'), 5000, 'the first at the provider');
    const second = await askForVideo(world, newUserId(), 'metrics second');
    let text = await scrape();
    await eventuallyAsync(async () => sample((text = await scrape()), 'pika_queue_length') === 1, 5000, 'the second counted as waiting');
    assert.equal(sample(text, 'pika_jobs{state="queued"}'), 1);
    assert.equal(wait(text, 'count'), wait(before, 'count') + 1, 'the first counted as it started, the second not yet');
    assert.equal(wait(text, 'bucket{le="0.05"}'), wait(before, 'bucket{le="0.05"}') + 1, 'the first waited for nothing');

    await waitSettled(first);
    await waitSettled(second);
    // Stored and settled just after its video is shown: counted as ended once both are done.
    await eventuallyAsync(async () => ended((text = await scrape())) >= ended(before) + 2, 5000, 'both jobs ended');
    assert.ok(promptsSent(world).includes('metrics second'));
    assert.equal(sample(text, 'pika_queue_length'), 0);
    assert.equal(wait(text, 'count'), wait(before, 'count') + 2, 'each start counted once');
    assert.equal(wait(text, 'bucket{le="0.05"}'), wait(before, 'bucket{le="0.05"}') + 1, 'the second did wait');
    const waited = wait(text, 'sum') - wait(before, 'sum');
    // About 12 polls of 40 ms while the first was at the provider.
    assert.ok(waited > 0.2 && waited < 15, `the second waited ${waited} s`);

    const store = (part: 'count' | 'sum', operation: string) => sample(text, `pika_store_operation_seconds_${part}{operation="${operation}"}`) ?? 0;
    const storeBefore = (operation: string) => sample(before, `pika_store_operation_seconds_count{operation="${operation}"}`) ?? 0;
    // Each job stored as it starts, then running, delivering and delivered (the one that waited, queued too).
    assert.ok(store('count', 'job_save') - storeBefore('job_save') >= 2 * 4 + 1, `job saves: ${store('count', 'job_save') - storeBefore('job_save')}`);
    // A reservation and a settlement per job; each command's interaction claimed once.
    assert.ok(store('count', 'usage_transact') - storeBefore('usage_transact') >= 2 * 2, `usage transactions: ${store('count', 'usage_transact') - storeBefore('usage_transact')}`);
    assert.ok(store('count', 'claim') - storeBefore('claim') >= 2);
    // Read once for the server, then kept in memory.
    assert.ok(store('count', 'settings_get') >= 1);
    for (const operation of ['job_save', 'usage_transact', 'claim', 'settings_get']) {
      const mean = store('sum', operation) / store('count', operation);
      assert.ok(mean > 0 && mean < 1, `${operation}: ${mean} s on average`);
    }
    assert.ok((sample(text, 'pika_store_operation_seconds_bucket{le="5",operation="job_save"}') ?? 0) > 0);
  });
});
