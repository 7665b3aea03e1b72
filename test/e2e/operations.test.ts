import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newUserId, videoFor } from '../support/users.js';
import { eventuallyAsync, startWorld, type World } from '../support/world.js';

/** The value of a Prometheus sample line `name{labels} value` in `text`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('operations endpoints: /health, /ready and /metrics (METRICS_PORT)', () => {
  let world: World;
  let base: string;

  before(async () => {
    world = await startWorld({ METRICS_PORT: '0' });
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
    const scrape = async () => {
      const response = await fetch(`${base}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return response.text();
    };
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
});
