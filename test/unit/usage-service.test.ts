import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import KeyvSqlite, { type KeyvSqliteOptions } from '@keyv/sqlite';
import Keyv from 'keyv';
import type { OperatorLimits } from '../../src/config.js';
import { emptyModeration } from '../../src/moderation/policy.js';
import { effectiveRules, GuildSettingsStore, LIMIT_FIELDS, type GuildSettings } from '../../src/usage/guild-settings.js';
import type { GlobalUsage, GuildUsage, LimitRules, Reservation, Settlement, UserUsage } from '../../src/usage/limits.js';
import { UsageService, type ReserveOutcome } from '../../src/usage/usage-service.js';
import { KeyvUsageBackend, type Decided, type UsageBackend, type Writes } from '../../src/usage/usage-store.js';
import { KeyedMutex } from '../../src/util/keyed-mutex.js';

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Tuesday 2026-11-24 12:00 UTC, in ISO week 2026-W48. */
const NOW = Date.UTC(2026, 10, 24, 12);
const WEDNESDAY = Date.UTC(2026, 10, 25);
const NEXT_MONDAY = Date.UTC(2026, 10, 30);

/** No limit at all, so each test turns on only the one it is about. */
const NO_LIMITS: LimitRules = { dailyLimit: null, weeklyLimit: null, cooldownSeconds: 0, maxConcurrent: null, serverDailyCap: null };

const OWNER = '100000000000000001';
const SETTLEMENTS = ['delivered', 'refunded', 'billed'] as const satisfies readonly Settlement[];

/** keyv over an in-memory SQLite database, as Storage makes it over the file. */
function sqliteKeyv(): Keyv {
  return new Keyv({ store: new KeyvSqlite(), namespace: 'usage', throwOnErrors: true });
}

interface SetupOptions {
  defaults?: Partial<LimitRules>;
  globalDailyCap?: number | null;
  ownerIds?: string[];
  start?: number;
}

function operatorLimits(options: SetupOptions): OperatorLimits {
  return {
    ownerIds: new Set(options.ownerIds ?? [OWNER]),
    defaults: { ...NO_LIMITS, ...options.defaults },
    globalDailyCap: options.globalDailyCap ?? null,
    allowDms: false, maxQueuedPerUser: 0, upstreamConcurrency: null, userInstall: { dailyLimit: 3, weeklyLimit: 10 },
  };
}

/**
 * A UsageService over in-memory SQLite (or the backend given) with a clock the test moves by hand.
 * `restart()` makes a new service and backend over the same stored data, as a new process would.
 */
function setup(options: SetupOptions & { backend?: UsageBackend } = {}) {
  const operator = operatorLimits(options);
  const usageKeyv = sqliteKeyv();
  const settings = new GuildSettingsStore(new Keyv());
  let clock = options.start ?? NOW;
  let ids = 0;
  const serviceOver = (backend: UsageBackend) =>
    new UsageService({ backend, settings, operator, now: () => clock, newId: () => `r${++ids}` });
  const service = serviceOver(options.backend ?? new KeyvUsageBackend(usageKeyv));
  return {
    service,
    settings,
    usageKeyv,
    operator,
    restart: (backend: UsageBackend = new KeyvUsageBackend(usageKeyv)) => serviceOver(backend),
    advance(ms: number) {
      clock += ms;
    },
    setClock(at: number) {
      clock = at;
    },
  };
}

/** Replaces a server’s limits through the settings store, leaving its other settings as they are. */
async function saveLimits(settings: GuildSettingsStore, guildId: string, limits: Partial<LimitRules>): Promise<void> {
  await settings.update(guildId, (current) => {
    current.limits = { ...limits };
  });
}

/** A server's settings with these limits and no moderation rules. */
function settingsWith(limits: Partial<LimitRules>): GuildSettings {
  return { limits, moderation: emptyModeration() };
}

function okReservation(outcome: ReserveOutcome): Reservation {
  if (!outcome.ok) assert.fail(`expected a reservation, got a refusal: ${outcome.refusal.limit}`);
  return outcome.reservation;
}

function refusalOf(outcome: ReserveOutcome) {
  if (outcome.ok) assert.fail(`expected a refusal, got reservation ${outcome.reservation.id}`);
  return outcome.refusal;
}

function tally(outcomes: ReserveOutcome[]) {
  const refused: Record<string, number> = {};
  let ok = 0;
  for (const outcome of outcomes) {
    if (outcome.ok) ok++;
    else refused[outcome.refusal.limit] = (refused[outcome.refusal.limit] ?? 0) + 1;
  }
  return { ok, refused };
}

describe('UsageService: exact limits under concurrency', () => {
  test('100 concurrent reserves by one user with dailyLimit 5: exactly 5 succeed', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5 } });
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => service.reserve('g1', 'u1')));
    assert.deepEqual(tally(outcomes), { ok: 5, refused: { daily: 95 } });
    for (const outcome of outcomes) if (!outcome.ok) assert.equal(outcome.refusal.retryAt, WEDNESDAY);

    const ids = outcomes.filter((o) => o.ok).map((o) => okReservation(o).id);
    assert.equal(new Set(ids).size, 5);
    assert.equal((await service.openReservations()).length, 5);
    const { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 0);
    assert.equal(view.running, 5);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayCount: 5, weekCount: 5, dayByUser: { u1: 5 }, weekByUser: { u1: 5 } });
  });

  test('100 concurrent reserves by one user with maxConcurrent 3: exactly 3 succeed', async () => {
    const { service } = setup({ defaults: { maxConcurrent: 3 } });
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => service.reserve('g1', 'u1')));
    assert.deepEqual(tally(outcomes), { ok: 3, refused: { concurrency: 97 } });
  });

  test('100 concurrent reserves by one user with a cooldown: exactly 1 succeeds', async () => {
    const { service } = setup({ defaults: { cooldownSeconds: 60 } });
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => service.reserve('g1', 'u1')));
    assert.deepEqual(tally(outcomes), { ok: 1, refused: { cooldown: 99 } });
    for (const outcome of outcomes) if (!outcome.ok) assert.equal(outcome.refusal.retryAt, NOW + 60 * SECOND);
  });

  test('100 concurrent reserves by 100 users of one server with serverDailyCap 7: exactly 7 succeed', async () => {
    const { service } = setup({ defaults: { serverDailyCap: 7, dailyLimit: 5 } });
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => service.reserve('g1', `u${i}`)));
    assert.deepEqual(tally(outcomes), { ok: 7, refused: { server: 93 } });
    const usage = await service.guildUsage('g1');
    assert.equal(Object.values(usage.dayByUser).reduce((a, b) => a + b, 0), 7);
    assert.equal(Object.keys(usage.dayByUser).length, 7);
    // Another server is not affected by this one's cap.
    assert.ok((await service.reserve('g2', 'u0')).ok);
  });

  test('100 concurrent reserves across 4 servers with globalDailyCap 9: exactly 9 succeed', async () => {
    const { service } = setup({ globalDailyCap: 9, defaults: { dailyLimit: 3 } });
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => service.reserve(`g${i % 4}`, `u${i}`)));
    assert.deepEqual(tally(outcomes), { ok: 9, refused: { global: 91 } });
    let total = 0;
    for (let g = 0; g < 4; g++) total += Object.values((await service.guildUsage(`g${g}`)).dayByUser).reduce((a, b) => a + b, 0);
    assert.equal(total, 9);
    assert.equal((await service.openReservations()).length, 9);
  });

  test('the same user has separate allowances in different servers', async () => {
    const { service } = setup({ defaults: { dailyLimit: 2 } });
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => service.reserve(i % 2 ? 'gA' : 'gB', 'u1')));
    assert.deepEqual(tally(outcomes), { ok: 4, refused: { daily: 16 } });
  });

  test('concurrent reserves and refunds stay exact', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5 } });
    const first = (await Promise.all(Array.from({ length: 5 }, () => service.reserve('g1', 'u1')))).map(okReservation);
    // Refund two while 50 more try to start: exactly the two freed places are taken.
    const [settled, outcomes] = await Promise.all([
      Promise.all([service.settle(first[0]!, 'refunded'), service.settle(first[1]!, 'refunded')]),
      Promise.all(Array.from({ length: 50 }, () => service.reserve('g1', 'u1'))),
    ]);
    assert.deepEqual(settled, [true, true]);
    const { ok } = tally(outcomes);
    assert.ok(ok <= 2, `only the refunded places can be taken, got ${ok}`);
    const { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 2 - ok);
    assert.equal((await service.openReservations()).length, 3 + ok);
  });
});

describe('UsageService: owners', () => {
  test('an owner bypasses every limit but is still counted', async () => {
    const { service } = setup({
      defaults: { dailyLimit: 0, weeklyLimit: 0, cooldownSeconds: 3600, maxConcurrent: 0, serverDailyCap: 0 },
      globalDailyCap: 0,
    });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => service.reserve('g1', OWNER)));
    assert.deepEqual(tally(outcomes), { ok: 10, refused: {} });
    assert.equal(service.isOwner(OWNER), true);
    assert.equal(service.isOwner('u1'), false);

    const { owner, view } = await service.quota('g1', OWNER);
    assert.equal(owner, true);
    assert.equal(view.running, 10);
    assert.equal(view.cooldownUntil, NOW + HOUR);
    const usage = await service.guildUsage('g1');
    assert.deepEqual(usage.dayByUser, { [OWNER]: 10 });
    assert.deepEqual(usage.weekByUser, { [OWNER]: 10 });
    assert.equal((await service.openReservations()).length, 10);
  });

  test('an owner’s videos count toward the server and global caps of everyone else', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5 }, globalDailyCap: 3 });
    for (let i = 0; i < 3; i++) okReservation(await service.reserve('g1', OWNER));
    assert.equal(refusalOf(await service.reserve('g2', 'u1')).limit, 'global');
    // ...but the owner still is not refused.
    okReservation(await service.reserve('g2', OWNER));

    const other = setup({ defaults: { serverDailyCap: 2 } });
    okReservation(await other.service.reserve('g1', OWNER));
    okReservation(await other.service.reserve('g1', OWNER));
    assert.equal(refusalOf(await other.service.reserve('g1', 'u1')).limit, 'server');
  });

  test('an owner’s own allowance is used up by their videos (shown in quota)', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5, weeklyLimit: 20 } });
    for (let i = 0; i < 3; i++) okReservation(await service.reserve('g1', OWNER));
    const { view } = await service.quota('g1', OWNER);
    assert.equal(view.dailyLeft, 2);
    assert.equal(view.weeklyLeft, 17);
  });
});

describe('UsageService: reserve and settle', () => {
  test('a reservation records who, where, when and the periods it counts in', async () => {
    const { service, advance } = setup();
    const first = okReservation(await service.reserve('g1', 'u1'));
    assert.deepEqual(first, {
      id: 'r1',
      guildId: 'g1',
      userId: 'u1',
      day: '2026-11-24',
      week: '2026-W48',
      startedAt: NOW,
      previousLastStartAt: null,
    });
    advance(5 * SECOND);
    const second = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(second.previousLastStartAt, NOW);
    assert.equal(second.startedAt, NOW + 5 * SECOND);
  });

  test('a refusal carries the rules in force', async () => {
    const { service, settings } = setup({ defaults: { dailyLimit: 1 } });
    await saveLimits(settings, 'g1', { weeklyLimit: 9 });
    okReservation(await service.reserve('g1', 'u1'));
    const outcome = await service.reserve('g1', 'u1');
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.deepEqual(outcome.rules, { ...NO_LIMITS, dailyLimit: 1, weeklyLimit: 9, exempt: false });
  });

  test('a refund frees the allowance; a delivery does not', async () => {
    const { service } = setup({ defaults: { dailyLimit: 1 } });
    const first = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(refusalOf(await service.reserve('g1', 'u1')).limit, 'daily');
    assert.equal(await service.settle(first, 'refunded'), true);
    const second = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(await service.settle(second, 'delivered'), true);
    assert.equal(refusalOf(await service.reserve('g1', 'u1')).limit, 'daily');
  });

  test('a refund restores the cooldown', async () => {
    const { service, advance } = setup({ defaults: { cooldownSeconds: 60 } });
    const first = okReservation(await service.reserve('g1', 'u1'));
    advance(SECOND);
    assert.deepEqual(refusalOf(await service.reserve('g1', 'u1')), { limit: 'cooldown', retryAt: NOW + 60 * SECOND, hits: ['cooldown'] });
    assert.equal((await service.quota('g1', 'u1')).view.cooldownUntil, NOW + 60 * SECOND);
    assert.equal(await service.settle(first, 'refunded'), true);
    assert.equal((await service.quota('g1', 'u1')).view.cooldownUntil, null);
    const second = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(second.previousLastStartAt, null);
  });

  test('a refund restores the previous start rather than clearing it', async () => {
    const { service, advance } = setup({ defaults: { cooldownSeconds: 60 } });
    const first = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(first, 'delivered');
    advance(61 * SECOND);
    const second = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(second, 'refunded');
    const next = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(next.previousLastStartAt, NOW);
  });

  test('a delivery frees the running slot and keeps the cooldown', async () => {
    const { service, advance } = setup({ defaults: { maxConcurrent: 1, cooldownSeconds: 10 } });
    const first = okReservation(await service.reserve('g1', 'u1'));
    advance(20 * SECOND);
    assert.equal(refusalOf(await service.reserve('g1', 'u1')).limit, 'concurrency');
    await service.settle(first, 'delivered');
    const second = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(second, 'delivered');
    advance(SECOND);
    assert.deepEqual(refusalOf(await service.reserve('g1', 'u1')), { limit: 'cooldown', retryAt: NOW + 30 * SECOND, hits: ['cooldown'] });
  });

  test('settle returns true once, then false, for either outcome', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5 } });
    const a = okReservation(await service.reserve('g1', 'u1'));
    const b = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(await service.settle(a, 'delivered'), true);
    assert.equal(await service.settle(a, 'delivered'), false);
    assert.equal(await service.settle(a, 'refunded'), false);
    assert.equal(await service.settle(b, 'refunded'), true);
    assert.equal(await service.settle(b, 'refunded'), false);
    assert.equal(await service.settle(b, 'delivered'), false);
    // The late refund of a did not take its delivered video back.
    assert.equal((await service.quota('g1', 'u1')).view.dailyLeft, 4);
    assert.equal(await service.settle({ id: 'never', guildId: 'g1', userId: 'u1' }, 'refunded'), false);
  });

  test('concurrent settlements of one reservation: exactly one wins', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5 } });
    const r = okReservation(await service.reserve('g1', 'u1'));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => service.settle(r, i % 2 ? 'refunded' : 'delivered')),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(results[0], true); // the first in line, a delivery
    assert.equal((await service.quota('g1', 'u1')).view.dailyLeft, 4);
  });

  test('openReservations lists exactly the unsettled ones', async () => {
    const { service, advance } = setup();
    assert.deepEqual(await service.openReservations(), []);
    const a = okReservation(await service.reserve('g1', 'u1'));
    advance(SECOND);
    const b = okReservation(await service.reserve('g2', 'u2'));
    advance(SECOND);
    const c = okReservation(await service.reserve('g1', 'u3'));
    assert.deepEqual(
      (await service.openReservations()).sort((x, y) => x.id.localeCompare(y.id)),
      [a, b, c],
    );
    await service.settle(a, 'delivered');
    await service.settle(c, 'refunded');
    assert.deepEqual(await service.openReservations(), [b]);
    await service.settle(b, 'refunded');
    assert.deepEqual(await service.openReservations(), []);
  });

  test('open reservations survive a day and a week roll-over and can still be settled', async () => {
    const { service, setClock } = setup({ defaults: { maxConcurrent: 1 } });
    const r = okReservation(await service.reserve('g1', 'u1'));
    setClock(NEXT_MONDAY + HOUR);
    assert.deepEqual(await service.openReservations(), [r]);
    assert.equal(refusalOf(await service.reserve('g1', 'u1')).limit, 'concurrency');
    assert.equal(await service.settle(r, 'refunded'), true);
    okReservation(await service.reserve('g1', 'u1'));
  });

  test('each open reservation is a record of its own, open:<id>, changed together with the counters', async () => {
    const { service, usageKeyv } = setup();
    const r = okReservation(await service.reserve('g1', 'u1'));
    assert.deepEqual(await usageKeyv.get(`open:${r.id}`), r);
    assert.deepEqual(((await usageKeyv.get('user:g1:u1')) as UserUsage).running, [r.id]);
    assert.deepEqual(await usageKeyv.get('global'), { day: '2026-11-24', dayCount: 1 } satisfies GlobalUsage);
    await service.settle(r, 'delivered');
    assert.equal(await usageKeyv.get(`open:${r.id}`), undefined);
    assert.deepEqual(((await usageKeyv.get('user:g1:u1')) as UserUsage).running, []);
  });

  test('a reservation can be given its id; one still open cannot be reserved again, a settled one can', async () => {
    const { service, usageKeyv } = setup({ defaults: { dailyLimit: 5 } });
    const job = okReservation(await service.reserve('g1', 'u1', [], 'job-1'));
    assert.equal(job.id, 'job-1');
    assert.deepEqual(((await usageKeyv.get('user:g1:u1')) as UserUsage).running, ['job-1']);
    await assert.rejects(service.reserve('g2', 'u2', [], 'job-1'), /reservation job-1 is already open/);
    assert.deepEqual(await service.openReservations(), [job]);
    assert.equal((await service.quota('g2', 'u2')).view.dailyLeft, 5, 'the refused one counted nothing');
    assert.equal(await service.settle(job, 'refunded'), true);
    okReservation(await service.reserve('g1', 'u1', [], 'job-1'));
    assert.equal(okReservation(await service.reserve('g1', 'u1')).id, 'r1', 'without an id, a fresh one');
  });

  test('billed gives the user’s and the server’s allowance back but not the global cap', async () => {
    const { service } = setup({ defaults: { dailyLimit: 1, serverDailyCap: 1, cooldownSeconds: 60 }, globalDailyCap: 2 });
    const failed = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(await service.settle(failed, 'billed'), true);
    assert.equal(await service.settle(failed, 'refunded'), false, 'settled once only');
    const { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 1);
    assert.equal(view.serverLeftToday, 1);
    assert.equal(view.cooldownUntil, null);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayCount: 0, weekCount: 0, dayByUser: {}, weekByUser: {} });
    okReservation(await service.reserve('g1', 'u1'));
    assert.equal(refusalOf(await service.reserve('g2', 'u2')).limit, 'global', 'the billed call still counts against the cap');
  });

  test('open reservations are found again after a restart, and settled there', async () => {
    const { service, restart } = setup({ defaults: { maxConcurrent: 2 } });
    const a = okReservation(await service.reserve('g1', 'u1'));
    const b = okReservation(await service.reserve('g2', 'u2'));
    await service.settle(a, 'delivered');
    const after = restart();
    assert.deepEqual(await after.openReservations(), [b]);
    assert.equal(await after.settle(b, 'refunded'), true);
    assert.equal(await after.settle(a, 'refunded'), false);
    assert.deepEqual(await after.openReservations(), []);
  });
});

/**
 * A UsageBackend over a Map: each transaction runs at once and stores its writes together, as
 * the contract asks. Every transaction's writes are recorded in order, and every scan in `listed`.
 */
class MemoryBackend implements UsageBackend {
  readonly data = new Map<string, unknown>();
  readonly transactions: Array<{ keys: readonly string[]; writes: Writes }> = [];
  readonly listed: string[] = [];

  async transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T> {
    const { writes, result } = update(new Map(keys.map((key) => [key, structuredClone(this.data.get(key))])));
    this.transactions.push({ keys, writes });
    for (const [key, value] of writes) {
      if (value === undefined) this.data.delete(key);
      else this.data.set(key, structuredClone(value));
    }
    return result;
  }

  async decide<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<Decided<T>> {
    return { result: await this.transact(keys, update), stored: Promise.resolve() };
  }

  async get(key: string): Promise<unknown> {
    return structuredClone(this.data.get(key));
  }

  async list(prefix: string): Promise<Array<[string, unknown]>> {
    this.listed.push(prefix);
    return [...this.data].filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key, structuredClone(value)]);
  }

  /** The keys of the last transaction's writes, `-key` for a delete. */
  lastWrites(): string[] {
    return (this.transactions.at(-1)?.writes ?? []).map(([key, value]) => (value === undefined ? `-${key}` : key));
  }
}

describe('UsageService: what each operation writes', () => {
  test('reserve changes the counters and writes the reservation’s own record, in one transaction', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend });
    const r = okReservation(await service.reserve('g1', 'u1'));
    assert.deepEqual(backend.lastWrites(), ['user:g1:u1', 'guild:g1', 'global', 'open:r1']);
    const writes = new Map(backend.transactions.at(-1)!.writes);
    assert.deepEqual((writes.get('user:g1:u1') as UserUsage).running, ['r1']);
    assert.deepEqual(writes.get('open:r1'), r);
  });

  test('settle changes the counters and deletes the reservation’s record, in one transaction, for every outcome; other records are not touched', async () => {
    for (const outcome of SETTLEMENTS) {
      const backend = new MemoryBackend();
      const { service } = setup({ backend });
      const r = okReservation(await service.reserve('g1', 'u1'));
      const other = okReservation(await service.reserve('g2', 'u2'));
      assert.equal(await service.settle(r, outcome), true);
      assert.deepEqual(backend.lastWrites(), ['user:g1:u1', 'guild:g1', 'global', '-open:r1'], outcome);
      const writes = new Map(backend.transactions.at(-1)!.writes);
      assert.deepEqual((writes.get('user:g1:u1') as UserUsage).running, [], outcome);
      assert.deepEqual(backend.data.get(`open:${other.id}`), other, outcome);
    }
  });

  test('a settle that finds nothing open writes nothing', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend });
    const r = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(r, 'delivered');
    assert.equal(await service.settle(r, 'refunded'), false);
    assert.deepEqual(backend.lastWrites(), []);
    assert.equal(await service.settle({ ...r, id: 'never' }, 'billed'), false);
    assert.deepEqual(backend.lastWrites(), []);
  });

  test('a refused reserve writes nothing', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend, defaults: { dailyLimit: 0 } });
    refusalOf(await service.reserve('g1', 'u1'));
    assert.deepEqual(backend.lastWrites(), []);
    assert.deepEqual([...backend.data], [['layout', 'open-records']], 'only the layout of a new store');
  });

  test('openReservations lists the open: records; the whole store is scanned once, at its first use, and never again, not even after a restart', async () => {
    const backend = new MemoryBackend();
    const { service, restart } = setup({ backend });
    const a = okReservation(await service.reserve('g1', 'u1'));
    const b = okReservation(await service.reserve('g2', 'u2'));
    backend.data.set('opening-note', 'not a reservation');
    assert.deepEqual(await service.openReservations(), [a, b]);
    const after = restart(backend);
    assert.deepEqual(await after.openReservations(), [a, b]);
    await after.settle(a, 'refunded');
    assert.deepEqual(await after.openReservations(), [b]);
    assert.deepEqual(backend.listed, ['', 'open:', 'open:', 'open:'], 'one scan of everything, by the first use of the first process');
  });
});

describe('UsageService: migration from one record per reservation', () => {
  const reservation = (id: string, userId: string): Reservation => ({
    id,
    guildId: 'g1',
    userId,
    day: '2026-11-24',
    week: '2026-W48',
    startedAt: NOW - HOUR,
    previousLastStartAt: null,
  });
  const live = reservation('live', 'u1');
  /** Its settlement's counters were stored, then the process died before the record's delete. */
  const settled = reservation('settled', 'u1');
  const other = reservation('other', 'u2');
  const user = (running: string[], count: number): UserUsage => ({ day: '2026-11-24', dayCount: count, week: '2026-W48', weekCount: count, lastStartAt: NOW - HOUR, running });

  /**
   * A store as the bot left it before the index: a record per open reservation, and a crash that
   * left u1 running `orphan`, whose record is gone.
   */
  async function legacyStore(keyv: Keyv): Promise<void> {
    for (const r of [live, settled, other]) await keyv.set(`reservation:${r.id}`, r);
    await keyv.set('user:g1:u1', user(['live', 'orphan'], 3));
    await keyv.set('user:g1:u2', user(['other'], 1));
    await keyv.set('guild:g1', { day: '2026-11-24', week: '2026-W48', dayByUser: { u1: 3, u2: 1 }, weekByUser: { u1: 3, u2: 1 } });
    await keyv.set('global', { day: '2026-11-24', dayCount: 4 } satisfies GlobalUsage);
  }

  const byId = (reservations: Reservation[]) => reservations.sort((x, y) => x.id.localeCompare(y.id));

  test('at first use every record moves to open:<id>, the old records go, and running ids without one are dropped', async () => {
    const { usageKeyv, restart } = setup({ defaults: { maxConcurrent: 2 } });
    await legacyStore(usageKeyv);
    const service = restart();
    assert.deepEqual(byId(await service.openReservations()), [live, other, settled]);
    for (const id of ['live', 'settled', 'other']) assert.equal(await usageKeyv.get(`reservation:${id}`), undefined, id);
    assert.deepEqual(await usageKeyv.get('open:live'), live);
    assert.deepEqual(await usageKeyv.get('user:g1:u1'), user(['live'], 3), 'the orphan freed its slot; the counts stay');
    assert.deepEqual(await usageKeyv.get('user:g1:u2'), user(['other'], 1));

    // Start-up reconciliation then settles them as it settled the records.
    assert.equal(await service.settle(live, 'refunded'), true);
    assert.equal(await service.settle(settled, 'refunded'), false, 'not open: its settlement already counted');
    assert.equal(await service.settle(other, 'billed'), true);
    assert.deepEqual(await service.openReservations(), []);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayCount: 2, weekCount: 2, dayByUser: { u1: 2 }, weekByUser: { u1: 2 } });
    assert.equal((await service.quota('g1', 'u1')).view.running, 0);
    assert.deepEqual(await usageKeyv.get('global'), { day: '2026-11-24', dayCount: 3 });
  });

  test('a reserve as the first use finds the records migrated, and the slot the orphan held free', async () => {
    const { usageKeyv, restart } = setup({ defaults: { maxConcurrent: 2 } });
    await legacyStore(usageKeyv);
    const service = restart();
    const fresh = okReservation(await service.reserve('g1', 'u1'));
    assert.deepEqual(byId(await service.openReservations()), [live, other, fresh, settled]);
    assert.deepEqual(((await usageKeyv.get('user:g1:u1')) as UserUsage).running, ['live', fresh.id]);
  });

  test('the migration runs once: a migrated store is not scanned again', async () => {
    const backend = new MemoryBackend();
    backend.data.set('reservation:live', live);
    backend.data.set('user:g1:u1', user(['live'], 1));
    const { service, restart } = setup({ backend });
    assert.deepEqual(await service.openReservations(), [live]);
    assert.deepEqual(await restart(backend).openReservations(), [live]);
    assert.deepEqual(backend.listed, ['', 'open:', 'open:']);
    assert.deepEqual([...backend.data.keys()].sort(), ['layout', 'open:live', 'user:g1:u1']);
  });

  test('a migration whose commit fails leaves the old records in place and is tried again at the next use', async () => {
    const keyv = new ObservedKeyv();
    await legacyStore(keyv);
    const { service } = setup({ backend: new KeyvUsageBackend(keyv) });
    // A row in the middle of the migration's one statement: the records' rows go before it, the
    // layout and the old records' tombstones after it.
    keyv.failNextWriteOf('user:g1:u1');
    await assert.rejects(service.openReservations(), /could not write user:g1:u1/);
    assert.deepEqual(keyv.ops.slice(-9), [
      'set open:live',
      'set open:other',
      'set open:settled',
      'set user:g1:u1',
      'set layout',
      'set reservation:live',
      'set reservation:other',
      'set reservation:settled',
      'rollback',
    ]);
    assert.equal(await keyv.get('open:live'), undefined);
    assert.equal(await keyv.get('layout'), undefined);
    assert.deepEqual(await keyv.get('reservation:live'), live);
    assert.deepEqual(await keyv.get('user:g1:u1'), user(['live', 'orphan'], 3));
    assert.deepEqual(byId(await service.openReservations()), [live, other, settled]);
    assert.equal(await keyv.get('reservation:live'), undefined);
  });

  test('a store with the index of every open reservation in one record gets a record for each, and the index goes', async () => {
    const { usageKeyv, restart } = setup({ defaults: { maxConcurrent: 2 } });
    await usageKeyv.set('open-reservations', { live, other });
    await usageKeyv.set('user:g1:u1', user(['live'], 3));
    await usageKeyv.set('user:g1:u2', user(['other'], 1));
    const service = restart();
    assert.deepEqual(byId(await service.openReservations()), [live, other]);
    assert.deepEqual(await usageKeyv.get('open:other'), other);
    assert.equal(await usageKeyv.get('open-reservations'), undefined);
    assert.equal(await usageKeyv.get('layout'), 'open-records');
    assert.deepEqual(await usageKeyv.get('user:g1:u1'), user(['live'], 3), 'the counters stay as they were');
    assert.equal(await service.settle(live, 'refunded'), true);
    assert.deepEqual(await service.openReservations(), [other]);
  });
});

describe('UsageService: rules per server', () => {
  const operatorDefaults: LimitRules = { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 100 };

  test('effectiveRules: no settings means the operator’s defaults', () => {
    const { operator } = setup({ defaults: operatorDefaults });
    assert.deepEqual(effectiveRules(settingsWith({}), operator), operatorDefaults);
    assert.notEqual(effectiveRules(settingsWith({}), operator), operator.defaults);
  });

  test('effectiveRules: each field the server set overrides its default, the others stay', () => {
    const { operator } = setup({ defaults: operatorDefaults });
    for (const field of LIMIT_FIELDS) {
      const value = field === 'cooldownSeconds' ? 7 : 3;
      assert.deepEqual(effectiveRules(settingsWith({ [field]: value }), operator), { ...operatorDefaults, [field]: value }, field);
    }
    assert.deepEqual(effectiveRules(settingsWith({ dailyLimit: 1, cooldownSeconds: 0, serverDailyCap: 7 }), operator), {
      dailyLimit: 1,
      weeklyLimit: 20,
      cooldownSeconds: 0,
      maxConcurrent: 2,
      serverDailyCap: 7,
    });
  });

  test('effectiveRules: null means unlimited and 0 means none, both override the default', () => {
    const { operator } = setup({ defaults: operatorDefaults });
    const settings = settingsWith({ dailyLimit: null, weeklyLimit: 0, maxConcurrent: null, serverDailyCap: null });
    assert.deepEqual(effectiveRules(settings, operator), {
      dailyLimit: null,
      weeklyLimit: 0,
      cooldownSeconds: 60,
      maxConcurrent: null,
      serverDailyCap: null,
    });
    assert.deepEqual(operator.defaults, operatorDefaults, 'the defaults are not modified');
  });

  test('GuildSettingsStore: nothing stored reads as no settings; null survives a round trip', async () => {
    const keyv = new Keyv();
    const store = new GuildSettingsStore(keyv);
    assert.deepEqual(await store.get('g1'), settingsWith({}));
    await saveLimits(store, 'g1', { dailyLimit: null, cooldownSeconds: 0 });
    assert.deepEqual(await store.get('g1'), settingsWith({ dailyLimit: null, cooldownSeconds: 0 }));
    assert.deepEqual(await store.get('g2'), settingsWith({}));
    // Through the store itself, not a copy in memory: as a new process reads it.
    assert.deepEqual(await new GuildSettingsStore(keyv).get('g1'), settingsWith({ dailyLimit: null, cooldownSeconds: 0 }));
  });

  test('rulesFor applies the server’s saved settings', async () => {
    const { service, settings } = setup({ defaults: operatorDefaults });
    await saveLimits(settings, 'g1', { dailyLimit: null, cooldownSeconds: 5 });
    assert.deepEqual(await service.rulesFor('g1'), { ...operatorDefaults, dailyLimit: null, cooldownSeconds: 5, exempt: false });
    assert.deepEqual(await service.rulesFor('g2'), { ...operatorDefaults, exempt: false });
  });

  test('reserve uses the server’s rules: unlimited in one server, the default in another', async () => {
    const { service, settings } = setup({ defaults: { dailyLimit: 1 } });
    await saveLimits(settings, 'gFree', { dailyLimit: null });
    await saveLimits(settings, 'gClosed', { dailyLimit: 0 });
    const free = await Promise.all(Array.from({ length: 30 }, () => service.reserve('gFree', 'u1')));
    assert.deepEqual(tally(free), { ok: 30, refused: {} });
    const normal = await Promise.all(Array.from({ length: 30 }, () => service.reserve('gNormal', 'u1')));
    assert.deepEqual(tally(normal), { ok: 1, refused: { daily: 29 } });
    assert.equal(refusalOf(await service.reserve('gClosed', 'u1')).limit, 'daily');
  });

  test('the global cap is the operator’s and no server setting lifts it', async () => {
    const { service, settings } = setup({ globalDailyCap: 2 });
    await saveLimits(settings, 'g1', { dailyLimit: null, serverDailyCap: null });
    assert.equal(service.globalDailyCap, 2);
    okReservation(await service.reserve('g1', 'u1'));
    okReservation(await service.reserve('g1', 'u1'));
    assert.equal(refusalOf(await service.reserve('g1', 'u1')).limit, 'global');
  });
});

describe('UsageService: quota and guildUsage across roll-overs', () => {
  test('quota for a user who never started a video', async () => {
    const { service } = setup({ defaults: { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 40 } });
    const quota = await service.quota('g1', 'u1');
    assert.equal(quota.owner, false);
    assert.equal(quota.exempt, false);
    assert.deepEqual(quota.rules, { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 40, exempt: false });
    assert.deepEqual(quota.view, {
      bonus: 0,
      dailyLeft: 5,
      weeklyLeft: 20,
      dayResetsAt: WEDNESDAY,
      weekResetsAt: NEXT_MONDAY,
      cooldownUntil: null,
      running: 0,
      waiting: 0,
      maxConcurrent: 2,
      serverLeftToday: 40,
    });
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayCount: 0, weekCount: 0, dayByUser: {}, weekByUser: {} });
  });

  test('the day’s counts reset at midnight and the week’s on Monday', async () => {
    const { service, setClock, advance } = setup({ defaults: { dailyLimit: 5, weeklyLimit: 20, serverDailyCap: 40 } });
    for (const user of ['u1', 'u1', 'u1', 'u2']) await service.settle(okReservation(await service.reserve('g1', user)), 'delivered');

    let { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 2);
    assert.equal(view.weeklyLeft, 17);
    assert.equal(view.serverLeftToday, 36);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayCount: 4, weekCount: 4, dayByUser: { u1: 3, u2: 1 }, weekByUser: { u1: 3, u2: 1 } });

    setClock(WEDNESDAY - 1);
    assert.equal((await service.quota('g1', 'u1')).view.dailyLeft, 2);

    advance(1); // Wednesday 00:00
    ({ view } = await service.quota('g1', 'u1'));
    assert.equal(view.dailyLeft, 5);
    assert.equal(view.weeklyLeft, 17);
    assert.equal(view.serverLeftToday, 40);
    assert.equal(view.dayResetsAt, WEDNESDAY + DAY);
    assert.equal(view.weekResetsAt, NEXT_MONDAY);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-25', week: '2026-W48', dayCount: 0, weekCount: 4, dayByUser: {}, weekByUser: { u1: 3, u2: 1 } });

    await service.settle(okReservation(await service.reserve('g1', 'u2')), 'delivered');
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-25', week: '2026-W48', dayCount: 1, weekCount: 5, dayByUser: { u2: 1 }, weekByUser: { u1: 3, u2: 2 } });

    setClock(NEXT_MONDAY);
    ({ view } = await service.quota('g1', 'u1'));
    assert.equal(view.dailyLeft, 5);
    assert.equal(view.weeklyLeft, 20);
    assert.equal(view.weekResetsAt, NEXT_MONDAY + 7 * DAY);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-30', week: '2026-W49', dayCount: 0, weekCount: 0, dayByUser: {}, weekByUser: {} });
    assert.equal((await service.quota('g1', 'u2')).view.weeklyLeft, 20);
  });

  test('a user refused for the day can start again after midnight', async () => {
    const { service, setClock } = setup({ defaults: { dailyLimit: 1, weeklyLimit: 2 }, start: Date.UTC(2026, 10, 24, 23, 59, 59) });
    await service.settle(okReservation(await service.reserve('g1', 'u1')), 'delivered');
    const refusal = refusalOf(await service.reserve('g1', 'u1'));
    assert.deepEqual(refusal, { limit: 'daily', retryAt: WEDNESDAY, hits: ['daily'] });
    setClock(refusal.retryAt!);
    await service.settle(okReservation(await service.reserve('g1', 'u1')), 'delivered');
    setClock(Date.UTC(2026, 10, 26, 9));
    assert.deepEqual(refusalOf(await service.reserve('g1', 'u1')), { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['weekly'] });
    setClock(NEXT_MONDAY);
    okReservation(await service.reserve('g1', 'u1'));
  });

  test('the global cap resets at midnight', async () => {
    const { service, setClock } = setup({ globalDailyCap: 1 });
    okReservation(await service.reserve('g1', 'u1'));
    assert.equal(refusalOf(await service.reserve('g2', 'u2')).limit, 'global');
    setClock(WEDNESDAY);
    okReservation(await service.reserve('g2', 'u2'));
  });

  test('a refund after midnight takes back the week’s count but not the new day’s', async () => {
    const { service, setClock } = setup({ defaults: { dailyLimit: 5, weeklyLimit: 20 }, globalDailyCap: 100, start: WEDNESDAY - SECOND });
    const yesterday = okReservation(await service.reserve('g1', 'u1'));
    setClock(WEDNESDAY + SECOND);
    okReservation(await service.reserve('g1', 'u1'));
    assert.equal(await service.settle(yesterday, 'refunded'), true);
    const { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 4);
    assert.equal(view.weeklyLeft, 19);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-25', week: '2026-W48', dayCount: 1, weekCount: 1, dayByUser: { u1: 1 }, weekByUser: { u1: 1 } });
  });
});

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets pending promise callbacks and other queued work run. */
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Waits, a tick at a time, until `condition` holds: for what waits on SQLite, which answers from another thread. */
async function until(condition: () => boolean): Promise<void> {
  for (let tick = 0; !condition(); tick++) {
    if (tick === 10_000) throw new Error('waited 10,000 ticks in vain');
    await ticks(1);
  }
}

/** Tracks how many holders each key has at once. */
function occupancy() {
  const active = new Map<string, number>();
  const overlaps: string[] = [];
  return {
    overlaps,
    enter(keys: readonly string[], label: string) {
      for (const key of new Set(keys)) {
        const n = (active.get(key) ?? 0) + 1;
        active.set(key, n);
        if (n > 1) overlaps.push(`${label} entered ${key} while held`);
      }
    },
    leave(keys: readonly string[]) {
      for (const key of new Set(keys)) active.set(key, (active.get(key) ?? 0) - 1);
    },
  };
}

describe('KeyedMutex', () => {
  test('isFree: false for a key while work holds it or waits for it, true once all of it is done', async () => {
    const mutex = new KeyedMutex();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const holding = mutex.runExclusive(['a', 'b'], () => done);
    const waiting = mutex.runExclusive(['b'], async () => {});
    assert.equal(mutex.isFree(['a']), false);
    assert.equal(mutex.isFree(['c', 'b']), false);
    assert.equal(mutex.isFree(['c']), true);
    release();
    await Promise.all([holding, waiting]);
    assert.equal(mutex.isFree(['a', 'b']), true);
  });

  test('work on the same key never overlaps and runs in call order', async () => {
    const mutex = new KeyedMutex();
    const seen = occupancy();
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        mutex.runExclusive(['k'], async () => {
          seen.enter(['k'], `#${i}`);
          order.push(i);
          await ticks(i % 3);
          seen.leave(['k']);
          return i * 2;
        }),
      ),
    );
    assert.deepEqual(seen.overlaps, []);
    assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i * 2));
  });

  test('work on different keys runs in parallel', { timeout: 2000 }, async () => {
    const mutex = new KeyedMutex();
    const aStarted = deferred();
    const bStarted = deferred();
    // Each waits for the other to have started: this only finishes if both hold their locks at once.
    await Promise.all([
      mutex.runExclusive(['a'], async () => {
        aStarted.resolve();
        await bStarted.promise;
      }),
      mutex.runExclusive(['b'], async () => {
        bStarted.resolve();
        await aStarted.promise;
      }),
    ]);
  });

  test('a later holder of one key waits until the earlier one releases it', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const events: string[] = [];
    const first = mutex.runExclusive(['a', 'b'], async () => {
      events.push('first start');
      await gate.promise;
      events.push('first end');
    });
    await ticks(2);
    assert.deepEqual(events, ['first start']);
    const second = mutex.runExclusive(['b'], async () => {
      events.push('second');
    });
    const unrelated = mutex.runExclusive(['c'], async () => {
      events.push('unrelated');
    });
    await ticks(5);
    assert.deepEqual(events, ['first start', 'unrelated']);
    gate.resolve();
    await Promise.all([first, second, unrelated]);
    assert.deepEqual(events, ['first start', 'unrelated', 'first end', 'second']);
  });

  test('[a,b] and [b,a] at once cannot deadlock and do not overlap', { timeout: 2000 }, async () => {
    for (let round = 0; round < 20; round++) {
      const mutex = new KeyedMutex();
      const seen = occupancy();
      const run = (keys: string[], label: string) =>
        mutex.runExclusive(keys, async () => {
          seen.enter(keys, label);
          await ticks(round % 4);
          seen.leave(keys);
          return label;
        });
      assert.deepEqual(await Promise.all([run(['a', 'b'], 'ab'), run(['b', 'a'], 'ba')]), ['ab', 'ba']);
      assert.deepEqual(seen.overlaps, []);
    }
  });

  test('many overlapping key sets in every order: no deadlock, no overlap', { timeout: 4000 }, async () => {
    const mutex = new KeyedMutex();
    const seen = occupancy();
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const jobs = Array.from({ length: 300 }, (_, i) => {
      const chosen = keys.filter(() => random() < 0.5);
      if (chosen.length === 0) chosen.push(keys[i % keys.length]!);
      chosen.sort(() => random() - 0.5); // any order, with duplicates sometimes
      if (random() < 0.2) chosen.push(chosen[0]!);
      const delay = Math.floor(random() * 3);
      return mutex.runExclusive(chosen, async () => {
        seen.enter(chosen, `#${i}`);
        await ticks(delay);
        seen.leave(chosen);
        return i;
      });
    });
    assert.deepEqual(await Promise.all(jobs), Array.from({ length: 300 }, (_, i) => i));
    assert.deepEqual(seen.overlaps, []);
  });

  test('a failing work releases its keys and rejects with its error', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.runExclusive(['a', 'b'], async () => {
      throw new Error('boom');
    });
    const next = mutex.runExclusive(['b'], async () => 'after');
    await assert.rejects(failing, /boom/);
    assert.equal(await next, 'after');
  });

  test('a duplicated key does not wait for itself', { timeout: 2000 }, async () => {
    const mutex = new KeyedMutex();
    assert.equal(await mutex.runExclusive(['a', 'a', 'a'], async () => 'done'), 'done');
  });

  test('keeps no locks once everything has finished', async () => {
    const mutex = new KeyedMutex();
    await Promise.all(Array.from({ length: 20 }, (_, i) => mutex.runExclusive([`k${i % 4}`, 'shared'], async () => ticks(1))));
    assert.equal((mutex as unknown as { tails: Map<string, unknown> }).tails.size, 0);
  });
});

describe('GuildSettingsStore: at once from memory', () => {
  test('a server read before is answered at once; one not read yet, or changed since, is read from the store', async () => {
    const settings = new GuildSettingsStore(new Keyv());
    const first = settings.get('g1');
    assert.ok(first instanceof Promise, 'never read: from the store');
    await first;
    const kept = settings.get('g1');
    assert.ok(!(kept instanceof Promise), 'in memory: at once');
    assert.equal(kept.limits.dailyLimit, undefined);
    await saveLimits(settings, 'g1', { dailyLimit: 4 });
    const changed = settings.get('g1');
    assert.ok(changed instanceof Promise, 'changed: read afresh');
    assert.equal((await changed).limits.dailyLimit, 4);
    assert.equal((settings.get('g1') as GuildSettings).limits.dailyLimit, 4, 'and kept again');
  });
});

describe('KeyvUsageBackend', () => {
  test('refuses a keyv whose writes it could not commit together: not over SQLite, or swallowing write errors', () => {
    assert.throws(() => new KeyvUsageBackend(new Keyv({ throwOnErrors: true })), /@keyv\/sqlite/);
    assert.throws(() => new KeyvUsageBackend(new Keyv({ store: new KeyvSqlite() })), /throwOnErrors/);
  });

  test('transact reads the stored values, writes the updates and returns the result', async () => {
    const keyv = sqliteKeyv();
    await keyv.set('a', { n: 1 });
    const backend = new KeyvUsageBackend(keyv);
    const result = await backend.transact(['a', 'b'], (values) => {
      assert.deepEqual(values.get('a'), { n: 1 });
      assert.equal(values.get('b'), undefined);
      return { writes: [['b', { n: 2 }]], result: 'done' };
    });
    assert.equal(result, 'done');
    assert.deepEqual(await backend.get('a'), { n: 1 });
    assert.deepEqual(await backend.get('b'), { n: 2 });
    assert.deepEqual(await keyv.get('b'), { n: 2 }, 'stored by the time the transaction resolved');
  });

  test('concurrent read-modify-write transactions lose no update', async () => {
    const backend = new KeyvUsageBackend(sqliteKeyv());
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        backend.transact(i % 2 ? ['count', 'other'] : ['other', 'count'], (values) => {
          const n = (values.get('count') as number | undefined) ?? 0;
          return { writes: [['count', n + 1]], result: n };
        }),
      ),
    );
    assert.equal(await backend.get('count'), 100);
  });

  test('decide answers before its writes are stored; later transactions see them at once; stored settles once they are', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await backend.transact(['count'], () => ({ writes: [['count', 1]], result: undefined }));
    const release = keyv.holdNextWrite('count');
    const first = await backend.decide(['count'], (values) => ({ writes: [['count', (values.get('count') as number) + 1]], result: 'decided' }));
    assert.equal(first.result, 'decided');
    const stored = track(first.stored);
    const second = await backend.decide(['count'], (values) => ({ writes: [['count', (values.get('count') as number) + 1]], result: values.get('count') }));
    assert.equal(second.result, 2, 'the second decision counted the first, not yet stored');
    await ticks(3);
    assert.equal(stored.settled, 'pending', 'not stored while the write is held');
    assert.equal(keyv.committed.get('count'), 1);
    release();
    await Promise.all([first.stored, second.stored]);
    assert.equal(keyv.committed.get('count'), 3);
  });

  test('decide answers at once when its keys are in memory or known absent; one that must read first counts what was decided meanwhile', async () => {
    const keyv = new ObservedKeyv();
    await keyv.set('stored', 'on disk');
    const backend = new KeyvUsageBackend(keyv);
    await backend.transact(['count'], () => ({ writes: [['count', 1]], result: undefined }));
    const bump = (values: Map<string, unknown>) => ({ writes: [['count', ((values.get('count') as number | undefined) ?? 0) + 1]] as Writes, result: values.get('count') });
    // In memory (written by this process), and a new key the listing of the store does not hold.
    const now = backend.decide(['count', 'user:new'], bump);
    assert.ok(!(now instanceof Promise), 'decided at once');
    assert.equal(now.result, 1);
    // 'stored' is on the disk and not yet in memory: this one reads it first.
    const reading = backend.decide(['count', 'stored'], bump);
    assert.ok(reading instanceof Promise, 'it waits for its read');
    const meanwhile = backend.decide(['count'], bump);
    assert.ok(!(meanwhile instanceof Promise), 'decided at once while the other reads');
    assert.equal(meanwhile.result, 2);
    const read = await reading;
    assert.equal(read.result, 3, 'the one that read counted every decision made before it took the keys');
    await Promise.all([now.stored, meanwhile.stored, read.stored]);
    assert.equal(keyv.committed.get('count'), 4);
  });

  test('decide queues behind a transaction that holds one of its keys, though every key is in memory', async () => {
    const backend = new KeyvUsageBackend(new ObservedKeyv());
    await backend.transact(['count'], () => ({ writes: [['count', 1]], result: undefined }));
    // What a transaction of the slow path holds while it reads: the backend's own lock on the key.
    const { mutex } = backend as unknown as { mutex: KeyedMutex };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holding = mutex.runExclusive(['count'], () => released);
    const queued = backend.decide(['count'], (values) => ({ writes: [['count', (values.get('count') as number) + 1]], result: values.get('count') }));
    assert.ok(queued instanceof Promise, 'it waits for the key');
    const progress = track(queued);
    await ticks(3);
    assert.equal(progress.settled, 'pending', 'nothing decided while the key is held');
    release();
    await holding;
    assert.equal((await queued).result, 1);
  });

  test('a reservation on a store in use is decided at once: a new user, known absent, waits for no read', async () => {
    const { service } = setup({ defaults: { dailyLimit: 2 } });
    okReservation(await service.reserve('g1', 'u-first'));
    const outcome = service.decideReservation('g1', 'u-new');
    assert.ok(!(outcome instanceof Promise), 'decided at once');
    assert.equal(outcome.ok, true);
    if (outcome.ok) await outcome.stored;
    okReservation(await service.reserve('g1', 'u-new'));
    const refused = await service.reserve('g1', 'u-new');
    assert.equal(refusalOf(refused).limit, 'daily', 'the reservation decided at once counted');
  });

  test('a failed write rejects what was decided on it, and the store is read afresh after it', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await backend.transact(['a'], () => ({ writes: [['a', 1]], result: undefined }));
    keyv.failNextWriteOf('a');
    const decided = await backend.decide(['a'], () => ({ writes: [['a', 2]], result: undefined }));
    await assert.rejects(decided.stored);
    assert.equal(await backend.transact(['a'], (values) => ({ writes: [], result: values.get('a') })), 1, 'the value the store holds, not the one never stored');
  });

  test('a key the store does not hold is not looked for on the disk; one it holds is read once', async () => {
    const keyv = sqliteKeyv();
    await keyv.set('user:old', { n: 1 });
    const backend = new KeyvUsageBackend(keyv);
    const reads: string[] = [];
    const get = keyv.get.bind(keyv);
    keyv.get = ((key: string) => (reads.push(key), get(key))) as typeof keyv.get;
    for (let i = 0; i < 2; i++) {
      await backend.transact(['user:new', 'user:old'], (values) => {
        assert.deepEqual(values.get('user:old'), { n: 1 });
        return { writes: [], result: undefined };
      });
    }
    assert.deepEqual(reads, ['user:old']);
  });

  test('an update that throws writes nothing and releases the keys', async () => {
    const backend = new KeyvUsageBackend(sqliteKeyv());
    await assert.rejects(
      backend.transact(['a'], () => {
        throw new Error('bad update');
      }),
      /bad update/,
    );
    assert.equal(await backend.get('a'), undefined);
    await backend.transact(['a'], () => ({ writes: [['a', 1]], result: undefined }));
    assert.equal(await backend.get('a'), 1);
  });
});

/** What one statement the adapter runs writes: `undefined` deletes the key. */
type StatementWrites = Array<{ key: string; stored: string; value: unknown }>;

/**
 * Keyv over SQLite (in memory by default) that watches the statements its adapter runs: the
 * backend's bulk upsert and bulk delete (and the adapter's own one-key set and delete, which the
 * test's own keyv.set calls make). SQLite applies each statement whole or not at all, so each is
 * recorded as the writes it makes followed by `commit`, or by `rollback` when SQLite refused it.
 * It can hold the next write statement (or the next one that writes a key) until the test lets it
 * go on, so that a batch forms behind it; and it can make SQLite itself refuse the next statement
 * that writes a key, part-way through, as a full disk or a constraint would.
 */
/** The ids of the open reservations a store holds (a deleted one's tombstone, null, is not one). */
function openIn(stored: Map<string, unknown>): string[] {
  return [...stored].filter(([key, value]) => key.startsWith('open:') && value !== null).map(([key]) => key.slice('open:'.length)).sort();
}

class ObservedKeyv extends Keyv {
  /** Per statement, in order: `set key` or `delete key` for each row it writes, then `commit` or `rollback`. */
  readonly ops: string[] = [];
  /** What the store holds for other connections: what a crash at any moment leaves. */
  readonly committed = new Map<string, unknown>();
  /** `committed` right after each commit. */
  readonly commits: Array<Map<string, unknown>> = [];
  /** The keys of the write statement being held now. */
  held: string[] | undefined;
  private hold: { key: string | undefined; until: Promise<void> } | undefined;
  private readonly failures = new Set<string>();
  private readonly deleteFailures = new Set<string>();
  private triggers = 0;

  constructor(options?: KeyvSqliteOptions | string) {
    super({ store: new KeyvSqlite(options), throwOnErrors: true });
    const adapter = this.store as KeyvSqlite;
    const query = adapter.query;
    adapter.query = async (sql, ...parameters) => {
      const writes = await this.writesOf(sql, parameters);
      if (!writes) return query(sql, ...parameters);
      await this.before(writes);
      const undo = await this.failInside(query, adapter.opts.table!, writes);
      try {
        const rows: unknown = await query(sql, ...parameters);
        this.ended(writes, true);
        return rows;
      } catch (error) {
        this.ended(writes, false);
        throw error;
      } finally {
        await undo();
      }
    };
  }

  /** Makes the next write statement (or the next one writing `key`) wait; returns what lets it go on. */
  holdNextWrite(key?: string): () => void {
    let release!: () => void;
    this.hold = { key, until: new Promise<void>((resolve) => (release = resolve)) };
    return release;
  }

  /**
   * Makes the next statement that writes `key` fail (once) inside SQLite, when it reaches that
   * row: the rows before it in the statement are written, then undone with it.
   */
  failNextWriteOf(key: string): void {
    this.failures.add(key);
  }

  /** Makes the next statement that deletes `key`'s row fail (once), as failNextWriteOf does; writes of its value go through. */
  failNextDeleteOf(key: string): void {
    this.deleteFailures.add(key);
  }

  /** The rows a writing statement writes, or undefined for a read. Fails the test on a write it does not know. */
  private async writesOf(sql: string, parameters: unknown[]): Promise<StatementWrites | undefined> {
    const table = (this.store as KeyvSqlite).opts.table!;
    const sets = async (rows: Array<[string, string]>) =>
      Promise.all(rows.map(async ([stored, serialized]) => ({ key: this.keyOf(stored), stored, value: (await this.deserializeData(serialized))?.value })));
    const deletes = (keys: string[]) => keys.map((stored) => ({ key: this.keyOf(stored), stored, value: undefined }));
    const statement = sql.replace(/\s+/g, ' ').trim();
    if (statement.startsWith(`INSERT INTO ${table} (key, value) SELECT json_extract(row.value, '$[0]'), json_extract(row.value, '$[1]') FROM json_each(?) AS row WHERE true ON CONFLICT(key) DO UPDATE SET value = excluded.value`)) {
      return sets(JSON.parse(parameters[0] as string) as Array<[string, string]>);
    }
    if (statement.startsWith(`DELETE FROM ${table} WHERE key IN (SELECT value FROM json_each(?))`)) return deletes(JSON.parse(parameters[0] as string) as string[]);
    if (statement.startsWith(`INSERT INTO ${table} (key, value) VALUES(?, ?) ON CONFLICT(key)`)) return sets([parameters as [string, string]]);
    if (statement.startsWith(`DELETE FROM ${table} WHERE key = ?`)) return deletes([parameters[0] as string]);
    if (/^(SELECT|PRAGMA)\b/i.test(statement)) return undefined;
    throw new Error(`ObservedKeyv does not know what this statement writes: ${statement}`);
  }

  /** The key as keyv is given it: without the namespace. */
  private keyOf(stored: string): string {
    const prefix = this.useKeyPrefix && this.namespace ? `${this.namespace}:` : '';
    return stored.startsWith(prefix) ? stored.slice(prefix.length) : stored;
  }

  private async before(writes: StatementWrites): Promise<void> {
    const hold = this.hold;
    if (hold && (hold.key === undefined || writes.some(({ key }) => key === hold.key))) {
      this.hold = undefined;
      this.held = writes.map(({ key }) => key);
      await hold.until;
      this.held = undefined;
    }
  }

  /** Temporary triggers that make SQLite abort the statement at a failing key's row; returns what drops them. */
  private async failInside(query: KeyvSqlite['query'], table: string, writes: StatementWrites): Promise<() => Promise<void>> {
    const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
    const names: string[] = [];
    for (const { key, stored, value } of writes) {
      if (!this.failures.delete(key) && !(value === undefined && this.deleteFailures.delete(key))) continue;
      for (const [event, row] of [['INSERT', 'NEW'], ['UPDATE', 'NEW'], ['DELETE', 'OLD']] as const) {
        const name = `observed_failure_${++this.triggers}`;
        await query(`CREATE TEMP TRIGGER ${name} BEFORE ${event} ON main.${table} WHEN ${row}.key = ${quote(stored)} BEGIN SELECT RAISE(ABORT, ${quote(`could not write ${key}`)}); END`);
        names.push(name);
      }
    }
    return async () => {
      for (const name of names) await query(`DROP TRIGGER temp.${name}`);
    };
  }

  private ended(writes: StatementWrites, committed: boolean): void {
    for (const { key, value } of writes) this.ops.push(value === undefined ? `delete ${key}` : `set ${key}`);
    this.ops.push(committed ? 'commit' : 'rollback');
    if (!committed) return;
    for (const { key, value } of writes) {
      if (value === undefined) this.committed.delete(key);
      else this.committed.set(key, value);
    }
    this.commits.push(new Map(this.committed));
  }
}

/** Records when each promise settles, to check what has resolved at a given moment. */
function track<T>(promise: Promise<T>) {
  const state: { settled: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { settled: 'pending' };
  promise.then(
    (value) => Object.assign(state, { settled: 'resolved', value }),
    (error: unknown) => Object.assign(state, { settled: 'rejected', error }),
  );
  return state;
}

describe('KeyvUsageBackend: group commit', () => {
  /**
   * Writes, as one transaction. Every one also takes '#serial', which sorts before the other keys,
   * so they run in call order (otherwise one on [b, d] may take b before an earlier one on [a, b]).
   */
  const put = (backend: KeyvUsageBackend, writes: Writes) =>
    backend.transact(['#serial', ...writes.map(([key]) => key)], () => ({ writes, result: writes.map(([key]) => key).join() }));

  /**
   * Reads `keys` into the backend's memory, so that transactions on them then compute within a
   * few ticks: SQLite answers from another thread, after a time no tick count can promise.
   */
  const prefetch = (backend: KeyvUsageBackend, keys: readonly string[]) => backend.transact(keys, () => ({ writes: [], result: undefined }));

  test('many concurrent transactions all resolve; the store ends with exactly the final values, written once each', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await prefetch(backend, ['count', ...Array.from({ length: 10 }, (_, j) => `item:${j}`), 'tmp']);
    const release = keyv.holdNextWrite();
    const resolvedEarly: number[] = [];
    const transact = (i: number) =>
      backend
        .transact(['count', `item:${i % 10}`, 'tmp'], (values) => {
          const n = (values.get('count') as number | undefined) ?? 0;
          const list = (values.get(`item:${i % 10}`) as number[] | undefined) ?? [];
          const writes: Writes = [
            ['count', n + 1],
            [`item:${i % 10}`, [...list, i]],
            ['tmp', i % 4 === 3 ? undefined : i],
          ];
          return { writes, result: n };
        })
        .then((n) => {
          // Resolved only once its writes (or later ones of the same keys) are committed.
          if (!((keyv.committed.get('count') as number) >= n + 1) || !(keyv.committed.get(`item:${i % 10}`) as number[]).includes(i)) resolvedEarly.push(i);
          return n;
        });
    const first = transact(0);
    // The first transaction's commit is under way, and waits: the others batch up behind it.
    await ticks(3);
    const transactions = [first, ...Array.from({ length: 199 }, (_, i) => transact(i + 1))];
    const progress = transactions.map(track);
    await ticks(3);
    assert.deepEqual(progress.filter((p) => p.settled !== 'pending'), [], 'nothing resolves before its writes are stored');
    release();

    assert.deepEqual(await Promise.all(transactions), Array.from({ length: 200 }, (_, i) => i));
    assert.deepEqual(resolvedEarly, []);
    // Two batches: the first transaction's writes, then every key once, with its last value, in
    // the order the batch first wrote it (item:j by transaction j, item:0 by transaction 10). The
    // batch is one statement; tmp (first written in it by transaction 1, last by transaction 199,
    // which deletes it) is in it as a tombstone, whose row the statement that follows drops.
    assert.deepEqual(keyv.ops, [
      'set count',
      'set item:0',
      'set tmp',
      'commit',
      'set count',
      'set item:1',
      'set tmp',
      ...Array.from({ length: 8 }, (_, j) => `set item:${j + 2}`),
      'set item:0',
      'commit',
      'delete tmp',
      'commit',
    ]);

    // A fresh backend over the same keyv reads the store itself, not the first one's memory.
    const fresh = new KeyvUsageBackend(keyv);
    assert.equal(await fresh.get('count'), 200);
    for (let j = 0; j < 10; j++) {
      assert.deepEqual(await fresh.get(`item:${j}`), Array.from({ length: 20 }, (_, k) => k * 10 + j), `item:${j}`);
    }
    assert.equal(await fresh.get('tmp'), undefined);
    assert.equal(await keyv.has('tmp'), false);
  });

  test('without holding anything, a burst is still stored exactly and in fewer writes than transactions', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        backend.transact(['count', `user:${i % 5}`], (values) => ({
          writes: [
            ['count', ((values.get('count') as number | undefined) ?? 0) + 1],
            [`user:${i % 5}`, ((values.get(`user:${i % 5}`) as number | undefined) ?? 0) + 1],
          ],
          result: undefined,
        })),
      ),
    );
    const fresh = new KeyvUsageBackend(keyv);
    assert.equal(await fresh.get('count'), 100);
    for (let u = 0; u < 5; u++) assert.equal(await fresh.get(`user:${u}`), 20);
    const writes = keyv.ops.filter((op) => op !== 'commit').length;
    assert.ok(writes < 200, `${writes} rows written for 200 writes`);
    const statements = keyv.commits.length;
    assert.ok(statements < 100, `${statements} statements for 100 transactions`);
    assert.ok(!keyv.ops.includes('rollback'));
  });

  test('a transaction resolves once its own writes are stored, not when an earlier batch is', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await prefetch(backend, ['#serial', 'a', 'b']);
    const releaseFirst = keyv.holdNextWrite();
    const first = track(put(backend, [['a', 1]]));
    await until(() => keyv.held?.join() === 'a');
    const releaseSecond = keyv.holdNextWrite(); // taken by the next batch's statement
    const second = track(put(backend, [['b', 2]]));
    await ticks(2);
    assert.deepEqual([first.settled, second.settled], ['pending', 'pending']);
    releaseFirst();
    await until(() => first.settled !== 'pending');
    assert.deepEqual([first.settled, second.settled], ['resolved', 'pending']);
    assert.deepEqual(keyv.ops, ['set a', 'commit']);
    releaseSecond();
    await until(() => second.settled !== 'pending');
    assert.deepEqual([first.settled, second.settled], ['resolved', 'resolved']);
    assert.deepEqual(keyv.ops, ['set a', 'commit', 'set b', 'commit']);
  });

  test('a transaction that writes nothing resolves without writing to the store', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    assert.equal(await backend.transact(['a'], () => ({ writes: [], result: 'nothing' })), 'nothing');
    assert.deepEqual(keyv.ops, []);
  });

  test('a key written by several transactions of one batch is stored once, with the last value', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await prefetch(backend, ['#serial', 'x', 'a', 'b', 'c', 'd']);
    const release = keyv.holdNextWrite(); // a slow first batch, so that the rest forms one batch
    const first = put(backend, [['x', 0]]);
    await ticks(3);
    const waiting = [
      first,
      put(backend, [['a', 1], ['b', 1]]),
      put(backend, [['c', 2], ['a', 2]]),
      put(backend, [['d', 3], ['b', undefined]]),
    ];
    await ticks(3);
    assert.deepEqual(keyv.ops, []);
    release();
    assert.deepEqual(await Promise.all(waiting), ['x', 'a,b', 'c,a', 'd,b']);
    assert.deepEqual(keyv.ops, ['set x', 'commit', 'set a', 'set b', 'set c', 'set d', 'commit', 'delete b', 'commit']);
    // The delete is in the batch's one statement, as a tombstone (null) that reads as absent, then its row goes.
    assert.deepEqual(keyv.commits.map((stored) => Object.fromEntries(stored)), [{ x: 0 }, { x: 0, a: 2, b: null, c: 2, d: 3 }, { x: 0, a: 2, c: 2, d: 3 }]);
    const fresh = new KeyvUsageBackend(keyv);
    assert.deepEqual(
      await Promise.all(['x', 'a', 'b', 'c', 'd'].map((key) => fresh.get(key))),
      [0, 2, undefined, 2, 3],
    );
  });

  test('list(prefix) finds exactly the keys under the prefix, in this namespace, and no deleted one', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await put(backend, [['open:a', 1], ['open:b', 2], ['open:c', 3], ['opening', 4], ['open', 5], ['user:1', 6]]);
    await put(backend, [['open:c', undefined]]);
    const elsewhere = new Keyv({ store: keyv.store, namespace: 'other', throwOnErrors: true });
    await elsewhere.set('open:z', 9);
    assert.deepEqual(await backend.list('open:'), [['open:a', 1], ['open:b', 2]]);
    assert.deepEqual((await backend.list('')).map(([key]) => key), ['open', 'open:a', 'open:b', 'opening', 'user:1']);
  });

  test('a deleted key is not kept in memory once its delete is stored, and still reads as absent', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    await prefetch(backend, ['#serial', 'gone']);
    await put(backend, [['gone', 1]]);
    await put(backend, [['gone', undefined]]);
    // Internal, but what it saves is the point: a record per settled reservation would stay for ever.
    assert.equal((backend as unknown as { cache: Map<string, unknown> }).cache.has('gone'), false);
    assert.equal(await backend.get('gone'), undefined);
    assert.equal(await put(backend, [['gone', 2]]), 'gone');
    assert.equal(await new KeyvUsageBackend(keyv).get('gone'), 2);
  });

  test('a deleted row that cannot be dropped after its tombstone is stored is logged, and the key still reads as absent', async () => {
    const keyv = new ObservedKeyv();
    const debug: Array<[string, Record<string, unknown> | undefined]> = [];
    const backend = new KeyvUsageBackend(keyv, { debug: (message, fields) => debug.push([message, fields]) });
    await put(backend, [['gone', 1], ['kept', 1]]);
    keyv.failNextDeleteOf('gone');
    keyv.ops.length = 0;
    // The transaction is stored (its counters and the tombstone together), so it succeeds.
    assert.equal(await put(backend, [['gone', undefined], ['kept', 2]]), 'gone,kept');
    assert.deepEqual(keyv.ops, ['set gone', 'set kept', 'commit', 'delete gone', 'rollback']);
    assert.equal(debug.length, 1);
    assert.match(debug[0]![0], /could not drop the rows of deleted usage records/);
    assert.match(String(debug[0]![1]?.error), /could not write gone/);
    const fresh = new KeyvUsageBackend(keyv);
    assert.deepEqual([await fresh.get('gone'), await fresh.get('kept')], [undefined, 2]);
    assert.deepEqual(await fresh.list(''), [['kept', 2]]);
  });

  test('a failing write rejects every transaction of its batch; a following transaction sees what the store holds', async () => {
    const keyv = new ObservedKeyv();
    await keyv.set('a', 1);
    await keyv.set('b', 1);
    keyv.ops.length = 0;
    const backend = new KeyvUsageBackend(keyv);
    await prefetch(backend, ['#serial', 'a', 'b', 'z']);
    const release = keyv.holdNextWrite();
    const first = put(backend, [['z', 1]]); // its own batch, which succeeds
    await until(() => keyv.held?.join() === 'z');
    keyv.failNextWriteOf('b');
    const failing = [
      backend.transact(['a'], (values) => ({ writes: [['a', (values.get('a') as number) + 1]], result: 'a' })),
      backend.transact(['b'], (values) => ({ writes: [['b', (values.get('b') as number) + 1]], result: 'b' })),
    ];
    const settled = Promise.allSettled(failing);
    await ticks(2);
    release();
    assert.equal(await first, 'z');
    const outcomes = await settled;
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
    const [reasonA, reasonB] = outcomes.map((o) => (o as PromiseRejectedResult).reason as Error);
    assert.match(reasonA!.message, /could not write b/);
    assert.equal(reasonB, reasonA, 'both fail with the statement');
    assert.deepEqual(keyv.ops, ['set z', 'commit', 'set a', 'set b', 'rollback']);
    assert.deepEqual(Object.fromEntries(keyv.committed), { a: 1, b: 1, z: 1 });

    // The memory copy had a = 2 and b = 2; the store still has 1 and 1 (SQLite undid a's row
    // with the statement), and that is what is read now.
    const seen = await backend.transact(['a', 'b', 'z'], (values) => ({ writes: [['a', (values.get('a') as number) + 10]], result: [...values.values()] }));
    assert.deepEqual(seen, [1, 1, 1]);
    assert.deepEqual(await backend.get('b'), 1);
    const fresh = new KeyvUsageBackend(keyv);
    assert.deepEqual(await Promise.all(['a', 'b', 'z'].map((key) => fresh.get(key))), [11, 1, 1]);
  });

  test('a write failing part-way through a batch: nothing of the batch is stored, and the backend goes on', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    keyv.failNextWriteOf('d'); // SQLite writes c's row, then refuses d's and undoes the statement
    await assert.rejects(put(backend, [['c', 5], ['d', 5]]), /could not write d/);
    assert.deepEqual(keyv.ops, ['set c', 'set d', 'rollback']);
    const seen = await backend.transact(['c', 'd'], (values) => ({ writes: [], result: [values.get('c'), values.get('d')] }));
    assert.deepEqual(seen, [undefined, undefined]);
    assert.equal(await keyv.has('c'), false);
    assert.equal(await put(backend, [['d', 6]]), 'd');
    assert.equal(await new KeyvUsageBackend(keyv).get('d'), 6);
  });

  test('a batch is one SQL statement: another connection sees all of it or none of it, and none of it when SQLite refuses it part-way', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pika-usage-'));
    const uri = `sqlite://${join(dir, 'usage.sqlite')}`;
    // As Storage opens the file: a busy timeout on each connection, in WAL mode.
    const open = () => new ObservedKeyv({ uri, busyTimeout: 5000 });
    const other = open();
    const writers: ObservedKeyv[] = [];
    /** What `other` holds of `keys`, read in one SELECT: one consistent state of the store. */
    const snapshot = async (keys: readonly string[]) => {
      const rows = (await (other.store as KeyvSqlite).query(
        'SELECT key, value FROM keyv WHERE key IN (SELECT value FROM json_each(?))',
        JSON.stringify(keys.map((key) => `keyv:${key}`)),
      )) as Array<{ key: string; value: string }>;
      const entries = await Promise.all(rows.map(async ({ key, value }) => [key.slice('keyv:'.length), (await other.deserializeData(value))?.value] as const));
      return Object.fromEntries(entries.sort(([x], [y]) => x.localeCompare(y)));
    };
    /** Snapshots taken one after another until `done` settles, and one more after. */
    const watch = async (keys: readonly string[], done: Promise<unknown>) => {
      let settled = false;
      done.then(
        () => (settled = true),
        () => (settled = true),
      );
      const snapshots: Array<Record<string, unknown>> = [];
      for (let last = false; !last; ) {
        last = settled;
        snapshots.push(await snapshot(keys));
      }
      return snapshots;
    };
    const numbered = (prefix: string) => Array.from({ length: 2000 }, (_, i) => `${prefix}:${i}`);
    try {
      await (other.store as KeyvSqlite).query('PRAGMA journal_mode = WAL');

      const writer = open();
      writers.push(writer);
      const backend = new KeyvUsageBackend(writer);
      const keys = numbered('n');
      const writes: Writes = keys.map((key, i) => [key, i]);
      await prefetch(backend, ['#serial', ...keys]); // its connection is open, and the values are in memory
      const release = writer.holdNextWrite();
      const committed = put(backend, writes);
      await until(() => writer.held !== undefined);
      assert.deepEqual(await snapshot(keys), {}, 'nothing before the statement runs');
      const whileWriting = watch(keys, committed);
      release();
      await committed;
      const all = Object.fromEntries(writes.map(([key, value]) => [key, value] as const).sort(([x], [y]) => x.localeCompare(y)));
      const seen = await whileWriting;
      assert.deepEqual(seen.filter((state) => Object.keys(state).length !== 0 && !isDeepStrictEqual(state, all)).length, 0, 'part of a batch is never seen');
      assert.deepEqual(seen.at(-1), all);
      assert.deepEqual(writer.ops.filter((op) => op === 'commit'), ['commit'], 'in one statement');

      // A batch that rewrites n:0 and writes 2000 new keys, whose last row SQLite refuses: it has
      // written every row before it by then, and undoes them all with the statement.
      const failing = open();
      writers.push(failing);
      const failingBackend = new KeyvUsageBackend(failing);
      const lostKeys = numbered('lost');
      const watched = ['n:0', ...lostKeys];
      await prefetch(failingBackend, ['#serial', ...watched]);
      const before = await snapshot(watched);
      assert.deepEqual(before, { 'n:0': 0 });
      failing.failNextWriteOf(lostKeys.at(-1)!);
      const lost = put(failingBackend, [['n:0', -1], ...lostKeys.map((key) => [key, 1] as const)]);
      const seenWhileFailing = await watch(watched, lost.catch(() => {}));
      await assert.rejects(lost, /could not write lost:1999/);
      assert.deepEqual(failing.ops, ['set n:0', ...lostKeys.map((key) => `set ${key}`), 'rollback']);
      assert.deepEqual(seenWhileFailing.filter((state) => !isDeepStrictEqual(state, before)).length, 0, 'none of a refused statement is ever seen');
      assert.deepEqual(await snapshot([...keys, ...lostKeys]), all, 'and none of it stays');
    } finally {
      for (const keyv of [other, ...writers]) await keyv.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('through UsageService, every commit leaves open records for exactly the reservations that users run', async () => {
    const keyv = new ObservedKeyv();
    const { service, advance } = setup({ backend: new KeyvUsageBackend(keyv), defaults: { maxConcurrent: 3 } });
    const a = okReservation(await service.reserve('g1', 'u1'));
    const b = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(a, 'delivered');
    advance(SECOND);
    const c = okReservation(await service.reserve('g1', 'u1'));
    await Promise.all([service.settle(b, 'refunded'), service.settle(c, 'billed'), service.reserve('g2', 'u2'), service.reserve('g1', 'u3')]);
    assert.ok(keyv.commits.length >= 5);
    for (const [n, stored] of keyv.commits.entries()) {
      const running = [...stored].filter(([key]) => key.startsWith('user:')).flatMap(([, user]) => (user as UserUsage).running);
      assert.deepEqual(openIn(stored), running.sort(), `after commit ${n + 1}`);
    }
    const final = keyv.commits.at(-1)!;
    assert.deepEqual(openIn(final), ['r4', 'r5']);
    assert.equal((final.get('guild:g1') as GuildUsage).dayCount, 2);
    assert.deepEqual(final.get('global'), { day: '2026-11-24', dayCount: 4 });
  });

  test('through UsageService, a commit that fails leaves neither the counters nor the open records changed', async () => {
    const keyv = new ObservedKeyv();
    const { service, restart } = setup({ backend: new KeyvUsageBackend(keyv), defaults: { dailyLimit: 3 } });
    const kept = okReservation(await service.reserve('g1', 'u1'));
    const before = new Map(keyv.committed);
    assert.deepEqual([...before.keys()].sort(), ['global', 'guild:g1', 'layout', `open:${kept.id}`, 'user:g1:u1']);

    keyv.failNextWriteOf('open:r2'); // the last row of each statement: the counters' rows go before it
    await assert.rejects(service.reserve('g1', 'u1'), /could not write open:r2/);
    assert.deepEqual(keyv.committed, before);
    keyv.failNextWriteOf(`open:${kept.id}`); // its tombstone, in the same statement as the counters
    await assert.rejects(service.settle(kept, 'refunded'), new RegExp(`could not write open:${kept.id}`));
    assert.deepEqual(keyv.committed, before);
    const byKey = (entries: Array<[string, unknown]>) => entries.sort(([x], [y]) => x.localeCompare(y));
    assert.deepEqual(byKey(await new KeyvUsageBackend(keyv).list('')), byKey([...before]), 'what SQLite holds, too');

    for (const service of [restart(new KeyvUsageBackend(keyv)), setup().restart(new KeyvUsageBackend(keyv))]) {
      assert.deepEqual(await service.openReservations(), [kept]);
    }
    const { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 2);
    assert.equal(view.running, 1);
    // And the service goes on, from what the store holds.
    assert.equal(await service.settle(kept, 'refunded'), true);
    assert.equal((await service.quota('g1', 'u1')).view.dailyLeft, 3);
  });

  test(
    'a failed batch’s writes never reach the store through a later batch',
    {},
    async () => {
      const keyv = new ObservedKeyv();
      await keyv.set('count', 0);
      const backend = new KeyvUsageBackend(keyv);
      const increment = () => backend.transact(['count'], (values) => ({ writes: [['count', (values.get('count') as number) + 1]], result: values.get('count') }));
      const release = keyv.holdNextWrite();
      keyv.failNextWriteOf('count');
      const failed = Promise.allSettled([increment()]);
      await until(() => keyv.held?.join() === 'count');
      const later = Promise.allSettled([increment()]); // computed from the first one's count = 1, in the next batch
      await ticks(2);
      release();
      const [[first], [second]] = await Promise.all([failed, later]);
      assert.equal(first?.status, 'rejected');
      // Either the later transaction fails too, or the store counts only what succeeded.
      const stored = await new KeyvUsageBackend(keyv).get('count');
      assert.equal(stored, second?.status === 'fulfilled' ? 1 : 0);
    },
  );
});

describe('KeyvUsageBackend: list', () => {
  test('lists every stored key with the prefix, with its value, in its namespace only, with no pattern matching', async () => {
    const adapter = new KeyvSqlite();
    const keyv = new Keyv({ store: adapter, namespace: 'usage', throwOnErrors: true });
    const elsewhere = new Keyv({ store: adapter, namespace: 'other', throwOnErrors: true });
    const backend = new KeyvUsageBackend(keyv);
    await put(backend, [['reservation:a', { id: 'a' }], ['reservation:b', { id: 'b' }], ['user:g1:u1', { n: 1 }], ['reservations', 1], ['reservation%x', 2]]);
    await put(backend, [['reservation:b', undefined], ['reservation:c', { id: 'c' }]]);
    await elsewhere.set('reservation:z', { id: 'z' });
    const listed = await backend.list('reservation:');
    assert.deepEqual(listed.sort(([x], [y]) => x.localeCompare(y)), [
      ['reservation:a', { id: 'a' }],
      ['reservation:c', { id: 'c' }],
    ]);
    assert.deepEqual(await backend.list('reservation%'), [['reservation%x', 2]]);
    assert.deepEqual(await backend.list('nothing:'), []);
    assert.equal((await backend.list('')).length, 5);
  });

  function put(backend: KeyvUsageBackend, writes: Writes) {
    return backend.transact(writes.map(([key]) => key), () => ({ writes, result: undefined }));
  }
});

describe('UsageService: waiting in the queue', () => {
  const queue = { maxWaiting: 2, mustWait: false };

  test('over the concurrent-video limit a reservation waits (counted in the allowance), up to the most waiting', async () => {
    const { service } = setup({ defaults: { maxConcurrent: 1, dailyLimit: 10, cooldownSeconds: 0 } });
    const first = await service.reserve('g1', 'u1', [], 'a', queue);
    const second = await service.reserve('g1', 'u1', [], 'b', queue);
    const third = await service.reserve('g1', 'u1', [], 'c', queue);
    assert.deepEqual([first.ok && first.waiting, second.ok && second.waiting, third.ok && third.waiting], [false, true, true]);
    const fourth = await service.reserve('g1', 'u1', [], 'd', queue);
    assert.equal(fourth.ok, false);
    assert.deepEqual(!fourth.ok && { limit: fourth.refusal.limit, waiting: fourth.refusal.waiting }, { limit: 'queue', waiting: 2 });
    const { view } = await service.quota('g1', 'u1');
    assert.deepEqual([view.running, view.waiting, view.dailyLeft], [3, 2, 7]);
    assert.equal(await service.reserve('g1', 'u1', [], 'e').then((o) => o.ok), false, 'without a queue the limit still refuses');
  });

  test('a waiting reservation starts only when the user has room; a refund or delivery takes it off either list', async () => {
    const { service } = setup({ defaults: { maxConcurrent: 1, cooldownSeconds: 0 } });
    const running = okReservation(await service.reserve('g1', 'u1', [], 'a', queue));
    const waiting = okReservation(await service.reserve('g1', 'u1', [], 'b', queue));
    assert.equal(await service.startWaiting(waiting), false);
    await service.settle(running, 'delivered');
    assert.equal(await service.startWaiting(waiting), true);
    assert.deepEqual((await service.userUsage('g1', 'u1')).waiting, undefined);
    assert.equal(await service.startWaiting(running), true, 'one that never waited may start');
    const third = okReservation(await service.reserve('g1', 'u1', [], 'c', queue));
    await service.settle(third, 'refunded');
    const user = await service.userUsage('g1', 'u1');
    assert.deepEqual([user.running, user.waiting], [['b'], undefined]);
  });

  test('mustWait queues even with room (the provider is full); owners wait for the provider only', async () => {
    const { service } = setup({ defaults: { maxConcurrent: 1 } });
    const outcome = await service.reserve('g1', 'u1', [], 'a', { maxWaiting: 1, mustWait: true });
    assert.equal(outcome.ok && outcome.waiting, true);
    assert.equal(await service.startWaiting(okReservation(outcome)), true, 'the user has room');
    for (const id of ['o1', 'o2', 'o3']) {
      const owner = await service.reserve('g1', OWNER, [], id, { maxWaiting: 1, mustWait: false });
      assert.equal(owner.ok && owner.waiting, false);
    }
  });

  test('a concurrent-video limit of 0 still switches videos off, queue or not', async () => {
    const { service } = setup({ defaults: { maxConcurrent: 0 } });
    const outcome = await service.reserve('g1', 'u1', [], 'a', queue);
    assert.equal(outcome.ok, false);
  });

  test('the user-install scope has the operator’s user-install allowances and no server cap', async () => {
    const { service } = setup({ defaults: { dailyLimit: 50, serverDailyCap: 1 } });
    const rules = await service.rulesFor('user-install');
    assert.deepEqual([rules.dailyLimit, rules.weeklyLimit, rules.serverDailyCap], [3, 10, null]);
    for (let i = 0; i < 3; i++) assert.equal((await service.reserve('user-install', 'u1')).ok, true);
    assert.equal((await service.reserve('user-install', 'u1')).ok, false);
    assert.equal((await service.reserve('user-install', 'u2')).ok, true, 'counted per user');
  });
});
