import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Keyv from 'keyv';
import { RedisUsageBackend } from '../../src/usage/redis-usage-backend.js';
import { GuildSettingsStore } from '../../src/usage/guild-settings.js';
import { LISTED_USAGE_PREFIXES, UsageService } from '../../src/usage/usage-service.js';
import { createClient } from '@redis/client';
import type { LimitRules } from '../../src/usage/limits.js';
import { redisForSuite, redisMissing } from '../support/redis.js';

const NO_LIMITS: LimitRules = { dailyLimit: null, weeklyLimit: null, cooldownSeconds: 0, maxConcurrent: null, serverDailyCap: null };
const skip = redisMissing();

describe('the usage store on a real Redis, shared by two processes', { skip }, () => {
  const redis = redisForSuite();

  /** Two UsageServices, each with its own connections, as two bot processes have. */
  async function twoProcesses(defaults: Partial<LimitRules>, globalDailyCap: number | null = null) {
    await redis.flush();
    const operator = { ownerIds: new Set<string>(), defaults: { ...NO_LIMITS, ...defaults }, globalDailyCap, allowDms: false, maxQueuedPerUser: 0, upstreamConcurrency: null, userInstall: { dailyLimit: 3, weeklyLimit: 10 } };
    const settings = new GuildSettingsStore(new Keyv());
    return Promise.all(
      [0, 1].map(async () => {
        const backend = redis.closeAfter(await RedisUsageBackend.connect(redis.url, () => {}, { listedPrefixes: LISTED_USAGE_PREFIXES }));
        return new UsageService({ backend, settings, operator, reserveTimeoutMs: 10_000 });
      }),
    );
  }

  test('100 commands at once from one user with 5 left, through two processes: exactly 5 reserved', async () => {
    const [a, b] = await twoProcesses({ dailyLimit: 5 });
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a! : b!).reserve('g1', 'u1')));
    assert.equal(outcomes.filter((o) => o.ok).length, 5);
    assert.equal((await a!.openReservations()).length, 5, 'the open reservations agree');
  });

  test('open reservations are listed from a set kept with them, not by scanning the keyspace', async () => {
    const [a, b] = await twoProcesses({});
    const reserved = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a! : b!).reserve('g1', `u${i}`)));
    const first = reserved[0]!;
    assert.ok(first.ok);
    assert.equal(await b!.settle(first.reservation, 'delivered'), true);
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const members = await client.sMembers('pika:usage:listed:open:');
      assert.equal(members.length, 5, 'the settled one left the set with its record');
      assert.deepEqual((await a!.openReservations()).map(({ id }) => `open:${id}`).sort(), members.sort());
    } finally {
      await client.close();
    }
  });

  test('the same for a server cap and for the global cap', async () => {
    const [a, b] = await twoProcesses({ serverDailyCap: 7 });
    const server = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a! : b!).reserve('g1', `u${i}`)));
    assert.equal(server.filter((o) => o.ok).length, 7);
    // The moderators' report reads the server's total and each member's own count, from either process.
    const report = await b!.guildUsage('g1');
    assert.equal(report.dayCount, 7);
    assert.equal(Object.values(report.dayByUser).reduce((sum, n) => sum + n, 0), 7);
    assert.equal(Object.keys(report.weekByUser).length, 7);
    const [c, d] = await twoProcesses({}, 4);
    const global = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? c! : d!).reserve(`g${i % 3}`, `u${i}`)));
    assert.equal(global.filter((o) => o.ok).length, 4);
  });

  test('a reservation settled from both processes at once is settled once', async () => {
    const [a, b] = await twoProcesses({ dailyLimit: 2 });
    const outcome = await a!.reserve('g1', 'u1');
    assert.ok(outcome.ok);
    const settled = await Promise.all([a!.settle(outcome.reservation, 'refunded'), b!.settle(outcome.reservation, 'refunded')]);
    assert.deepEqual(settled.sort(), [false, true]);
    assert.equal((await b!.userUsage('g1', 'u1')).dayCount, 0, 'refunded exactly once');
  });

  test('waiting reservations start exactly as the limit allows across processes', async () => {
    const [a, b] = await twoProcesses({ maxConcurrent: 1 });
    const queue = { maxWaiting: 5, mustWait: false };
    const reservations = [];
    for (let i = 0; i < 4; i++) {
      const outcome = await (i % 2 ? a! : b!).reserve('g1', 'u1', [], `r${i}`, queue);
      assert.ok(outcome.ok);
      reservations.push(outcome.reservation);
    }
    await a!.settle(reservations[0]!, 'delivered');
    const started = await Promise.all(reservations.slice(1).map((r, i) => (i % 2 ? a! : b!).startWaiting(r)));
    assert.equal(started.filter(Boolean).length, 1, 'one slot freed, one started');
  });
});
