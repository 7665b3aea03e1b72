import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { CircuitBreaker, type BreakerTicket } from '../../src/pika/circuit-breaker.js';
import { RedisStore } from '../../src/redis-store.js';
import { StoreTimeoutError } from '../../src/storage.js';
import { redisForSuite, redisMissing } from '../support/redis.js';

const skip = redisMissing();
const COOL_DOWN_MS = 300;
const THRESHOLD = 3;
const quiet = { connectionFailed: () => {}, notRecorded: () => {} };

describe('the circuit breaker shared by two processes on a real Redis', { skip }, () => {
  const redis = redisForSuite();
  beforeEach(async () => {
    await redis.flush();
  });

  /** A breaker in each of two processes (each its own store connections), over one Redis. */
  async function twoBreakers(options: { probeLeaseMs?: number } = {}): Promise<[CircuitBreaker, CircuitBreaker]> {
    const opened = await Promise.all([RedisStore.open(redis.url, quiet), RedisStore.open(redis.url, quiet)]);
    opened.forEach((store) => redis.closeAfter(store));
    const [a, b] = opened.map((store) => new CircuitBreaker({ threshold: THRESHOLD, coolDownMs: COOL_DOWN_MS, ...options }, store.breakerState('generate')));
    return [a!, b!];
  }

  async function admitted(breaker: CircuitBreaker): Promise<BreakerTicket> {
    const ticket = await breaker.admit();
    assert.ok(ticket, 'expected the command to be let through');
    return ticket;
  }

  /** Opens the breaker with failures reported through both processes in turn. */
  async function openThrough(a: CircuitBreaker, b: CircuitBreaker): Promise<void> {
    for (let i = 0; i < THRESHOLD; i++) {
      const through = i % 2 ? b : a;
      (await admitted(through)).failed(true);
      await through.reported();
    }
  }

  /** Admits `n` commands at once, alternating between the processes. */
  async function burst(a: CircuitBreaker, b: CircuitBreaker, n: number): Promise<BreakerTicket[]> {
    const tickets = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? b : a).admit()));
    return tickets.filter((ticket): ticket is BreakerTicket => ticket !== null);
  }

  test('failures reported through either process open it for both', async () => {
    const [a, b] = await twoBreakers();
    (await admitted(a)).failed(true);
    await a.reported();
    (await admitted(b)).failed(true);
    await b.reported();
    assert.ok(await a.admit(), 'two failures are not enough');
    (await admitted(a)).failed(true);
    await a.reported();
    assert.equal(await a.admit(), null);
    assert.equal(await b.admit(), null, 'the other process refuses too, without a failure of its own');
    assert.equal(b.state, 'open');
    assert.ok(b.retryAt! > Date.now() && b.retryAt! <= Date.now() + COOL_DOWN_MS + 50, 'it tells when to try again');
  });

  test('a success through either process starts the count again for both', async () => {
    const [a, b] = await twoBreakers();
    for (let i = 0; i < THRESHOLD - 1; i++) (await admitted(a)).failed(true);
    await a.reported();
    (await admitted(b)).succeeded();
    await b.reported();
    for (let i = 0; i < THRESHOLD - 1; i++) (await admitted(a)).failed(true);
    await a.reported();
    assert.ok(await b.admit(), 'still closed');
  });

  test('after the cool-down only one probe goes out across both processes', async () => {
    const [a, b] = await twoBreakers();
    await openThrough(a, b);
    assert.deepEqual(await burst(a, b, 20), [], 'all refused while cooling down');
    await sleep(COOL_DOWN_MS + 50);
    const through = await burst(a, b, 20);
    assert.equal(through.length, 1, 'exactly one probe');
    assert.equal(through[0]!.probe, true);
    assert.equal(a.state, 'half-open');
    assert.deepEqual(await burst(a, b, 10), [], 'none while the probe is out');
  });

  test("the probe's success through one process closes the breaker for both", async () => {
    const [a, b] = await twoBreakers();
    await openThrough(a, b);
    await sleep(COOL_DOWN_MS + 50);
    const probe = await admitted(a);
    probe.succeeded();
    await a.reported();
    const ticket = await admitted(b);
    assert.equal(ticket.probe, false);
    assert.equal(b.state, 'closed');
    assert.equal((await burst(a, b, 10)).length, 10);
  });

  test("the probe's failure opens it again for both, for a full cool-down", async () => {
    const [a, b] = await twoBreakers();
    await openThrough(a, b);
    await sleep(COOL_DOWN_MS + 50);
    (await admitted(b)).failed(true);
    await b.reported();
    assert.deepEqual(await burst(a, b, 10), []);
    await sleep(COOL_DOWN_MS + 50);
    assert.equal((await burst(a, b, 10)).length, 1);
  });

  test('a probe released unused lets the next command, in either process, be the probe', async () => {
    const [a, b] = await twoBreakers();
    await openThrough(a, b);
    await sleep(COOL_DOWN_MS + 50);
    const probe = await admitted(a);
    assert.equal(await b.admit(), null);
    probe.release();
    await a.reported();
    assert.equal((await admitted(b)).probe, true);
  });

  test('a probe whose process died holds its claim only for the lease', async () => {
    const [a, b] = await twoBreakers({ probeLeaseMs: 200 });
    await openThrough(a, b);
    await sleep(COOL_DOWN_MS + 50);
    await admitted(a); // never reported: its process is gone
    assert.equal(await b.admit(), null);
    await sleep(250);
    assert.equal((await admitted(b)).probe, true);
  });

  test('the report of a probe whose lease passed to another does not end the newer probe', async () => {
    const [a, b] = await twoBreakers({ probeLeaseMs: 200 });
    await openThrough(a, b);
    await sleep(COOL_DOWN_MS + 50);
    const stale = await admitted(a);
    await sleep(250);
    await admitted(b);
    stale.release();
    await a.reported();
    assert.equal(await a.admit(), null, "b's probe is still out");
  });

  test('a Redis that does not answer: admit rejects within a second ("records unreachable"), and a probe it took late is given back', async () => {
    const [a, b] = await twoBreakers();
    await openThrough(a, b);
    await sleep(COOL_DOWN_MS + 50);
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL']);
      const started = Date.now();
      await assert.rejects(async () => a.admit(), StoreTimeoutError);
      assert.ok(Date.now() - started < 1500, 'it did not wait for Redis');
    } finally {
      await admin.close();
    }
    // Once Redis answers again, the admit that timed out may have claimed the probe: it is ended.
    const deadline = Date.now() + 3000;
    let probe: BreakerTicket | null = null;
    while (!probe && Date.now() < deadline) {
      probe = await b.admit();
      if (!probe) await sleep(20);
    }
    assert.equal(probe?.probe, true, 'the probe is free again');
  });
});
