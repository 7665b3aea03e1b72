import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Keyv from 'keyv';
import type { OperatorLimits } from '../../src/config.js';
import { effectiveRules, GuildSettingsStore, LIMIT_FIELDS, type GuildSettings } from '../../src/usage/guild-settings.js';
import type { LimitRules, Reservation } from '../../src/usage/limits.js';
import { UsageService, type ReserveOutcome } from '../../src/usage/usage-service.js';
import { KeyedMutex, KeyvUsageBackend } from '../../src/usage/usage-store.js';

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

interface SetupOptions {
  defaults?: Partial<LimitRules>;
  globalDailyCap?: number | null;
  ownerIds?: string[];
  start?: number;
}

/** A UsageService over in-memory keyv with a clock the test moves by hand. */
function setup(options: SetupOptions = {}) {
  const operator: OperatorLimits = {
    ownerIds: new Set(options.ownerIds ?? [OWNER]),
    defaults: { ...NO_LIMITS, ...options.defaults },
    globalDailyCap: options.globalDailyCap ?? null,
    allowDms: false,
  };
  const usageKeyv = new Keyv();
  const settings = new GuildSettingsStore(new Keyv());
  let clock = options.start ?? NOW;
  let ids = 0;
  const service = new UsageService({
    backend: new KeyvUsageBackend(usageKeyv),
    settings,
    operator,
    now: () => clock,
    newId: () => `r${++ids}`,
  });
  return {
    service,
    settings,
    usageKeyv,
    operator,
    advance(ms: number) {
      clock += ms;
    },
    setClock(at: number) {
      clock = at;
    },
  };
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
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayByUser: { u1: 5 }, weekByUser: { u1: 5 } });
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
    await settings.save('g1', { limits: { weeklyLimit: 9 } });
    okReservation(await service.reserve('g1', 'u1'));
    const outcome = await service.reserve('g1', 'u1');
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.deepEqual(outcome.rules, { ...NO_LIMITS, dailyLimit: 1, weeklyLimit: 9 });
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
    assert.deepEqual(refusalOf(await service.reserve('g1', 'u1')), { limit: 'cooldown', retryAt: NOW + 60 * SECOND });
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
    assert.deepEqual(refusalOf(await service.reserve('g1', 'u1')), { limit: 'cooldown', retryAt: NOW + 30 * SECOND });
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

  test('a running id whose reservation is no longer open does not hold a slot', async () => {
    // As left by a crash between the writes of the global record and the user's record.
    const { service, usageKeyv } = setup({ defaults: { maxConcurrent: 1 } });
    const r = okReservation(await service.reserve('g1', 'u1'));
    const stale = (await usageKeyv.get('user:g1:u1')) as { running: string[] };
    assert.deepEqual(stale.running, [r.id]);
    await usageKeyv.set('global', { day: '2026-11-24', dayCount: 1, open: {} });
    assert.equal((await service.quota('g1', 'u1')).view.running, 0);
    okReservation(await service.reserve('g1', 'u1'));
  });
});

describe('UsageService: rules per server', () => {
  const operatorDefaults: LimitRules = { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 100 };

  test('effectiveRules: no settings means the operator’s defaults', () => {
    const { operator } = setup({ defaults: operatorDefaults });
    assert.deepEqual(effectiveRules({ limits: {} }, operator), operatorDefaults);
    assert.notEqual(effectiveRules({ limits: {} }, operator), operator.defaults);
  });

  test('effectiveRules: each field the server set overrides its default, the others stay', () => {
    const { operator } = setup({ defaults: operatorDefaults });
    for (const field of LIMIT_FIELDS) {
      const value = field === 'cooldownSeconds' ? 7 : 3;
      assert.deepEqual(effectiveRules({ limits: { [field]: value } }, operator), { ...operatorDefaults, [field]: value }, field);
    }
    assert.deepEqual(effectiveRules({ limits: { dailyLimit: 1, cooldownSeconds: 0, serverDailyCap: 7 } }, operator), {
      dailyLimit: 1,
      weeklyLimit: 20,
      cooldownSeconds: 0,
      maxConcurrent: 2,
      serverDailyCap: 7,
    });
  });

  test('effectiveRules: null means unlimited and 0 means none, both override the default', () => {
    const { operator } = setup({ defaults: operatorDefaults });
    const settings: GuildSettings = { limits: { dailyLimit: null, weeklyLimit: 0, maxConcurrent: null, serverDailyCap: null } };
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
    const store = new GuildSettingsStore(new Keyv());
    assert.deepEqual(await store.get('g1'), { limits: {} });
    await store.save('g1', { limits: { dailyLimit: null, cooldownSeconds: 0 } });
    assert.deepEqual(await store.get('g1'), { limits: { dailyLimit: null, cooldownSeconds: 0 } });
    assert.deepEqual(await store.get('g2'), { limits: {} });
  });

  test('rulesFor applies the server’s saved settings', async () => {
    const { service, settings } = setup({ defaults: operatorDefaults });
    await settings.save('g1', { limits: { dailyLimit: null, cooldownSeconds: 5 } });
    assert.deepEqual(await service.rulesFor('g1'), { ...operatorDefaults, dailyLimit: null, cooldownSeconds: 5 });
    assert.deepEqual(await service.rulesFor('g2'), operatorDefaults);
  });

  test('reserve uses the server’s rules: unlimited in one server, the default in another', async () => {
    const { service, settings } = setup({ defaults: { dailyLimit: 1 } });
    await settings.save('gFree', { limits: { dailyLimit: null } });
    await settings.save('gClosed', { limits: { dailyLimit: 0 } });
    const free = await Promise.all(Array.from({ length: 30 }, () => service.reserve('gFree', 'u1')));
    assert.deepEqual(tally(free), { ok: 30, refused: {} });
    const normal = await Promise.all(Array.from({ length: 30 }, () => service.reserve('gNormal', 'u1')));
    assert.deepEqual(tally(normal), { ok: 1, refused: { daily: 29 } });
    assert.equal(refusalOf(await service.reserve('gClosed', 'u1')).limit, 'daily');
  });

  test('the global cap is the operator’s and no server setting lifts it', async () => {
    const { service, settings } = setup({ globalDailyCap: 2 });
    await settings.save('g1', { limits: { dailyLimit: null, serverDailyCap: null } });
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
    assert.deepEqual(quota.rules, { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 40 });
    assert.deepEqual(quota.view, {
      dailyLeft: 5,
      weeklyLeft: 20,
      dayResetsAt: WEDNESDAY,
      weekResetsAt: NEXT_MONDAY,
      cooldownUntil: null,
      running: 0,
      maxConcurrent: 2,
      serverLeftToday: 40,
    });
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayByUser: {}, weekByUser: {} });
  });

  test('the day’s counts reset at midnight and the week’s on Monday', async () => {
    const { service, setClock, advance } = setup({ defaults: { dailyLimit: 5, weeklyLimit: 20, serverDailyCap: 40 } });
    for (const user of ['u1', 'u1', 'u1', 'u2']) await service.settle(okReservation(await service.reserve('g1', user)), 'delivered');

    let { view } = await service.quota('g1', 'u1');
    assert.equal(view.dailyLeft, 2);
    assert.equal(view.weeklyLeft, 17);
    assert.equal(view.serverLeftToday, 36);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayByUser: { u1: 3, u2: 1 }, weekByUser: { u1: 3, u2: 1 } });

    setClock(WEDNESDAY - 1);
    assert.equal((await service.quota('g1', 'u1')).view.dailyLeft, 2);

    advance(1); // Wednesday 00:00
    ({ view } = await service.quota('g1', 'u1'));
    assert.equal(view.dailyLeft, 5);
    assert.equal(view.weeklyLeft, 17);
    assert.equal(view.serverLeftToday, 40);
    assert.equal(view.dayResetsAt, WEDNESDAY + DAY);
    assert.equal(view.weekResetsAt, NEXT_MONDAY);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-25', week: '2026-W48', dayByUser: {}, weekByUser: { u1: 3, u2: 1 } });

    await service.settle(okReservation(await service.reserve('g1', 'u2')), 'delivered');
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-25', week: '2026-W48', dayByUser: { u2: 1 }, weekByUser: { u1: 3, u2: 2 } });

    setClock(NEXT_MONDAY);
    ({ view } = await service.quota('g1', 'u1'));
    assert.equal(view.dailyLeft, 5);
    assert.equal(view.weeklyLeft, 20);
    assert.equal(view.weekResetsAt, NEXT_MONDAY + 7 * DAY);
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-30', week: '2026-W49', dayByUser: {}, weekByUser: {} });
    assert.equal((await service.quota('g1', 'u2')).view.weeklyLeft, 20);
  });

  test('a user refused for the day can start again after midnight', async () => {
    const { service, setClock } = setup({ defaults: { dailyLimit: 1, weeklyLimit: 2 }, start: Date.UTC(2026, 10, 24, 23, 59, 59) });
    await service.settle(okReservation(await service.reserve('g1', 'u1')), 'delivered');
    const refusal = refusalOf(await service.reserve('g1', 'u1'));
    assert.deepEqual(refusal, { limit: 'daily', retryAt: WEDNESDAY });
    setClock(refusal.retryAt!);
    await service.settle(okReservation(await service.reserve('g1', 'u1')), 'delivered');
    setClock(Date.UTC(2026, 10, 26, 9));
    assert.deepEqual(refusalOf(await service.reserve('g1', 'u1')), { limit: 'weekly', retryAt: NEXT_MONDAY });
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
    assert.deepEqual(await service.guildUsage('g1'), { day: '2026-11-25', week: '2026-W48', dayByUser: { u1: 1 }, weekByUser: { u1: 1 } });
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

describe('KeyvUsageBackend', () => {
  test('transact reads the stored values, writes the updates and returns the result', async () => {
    const keyv = new Keyv();
    await keyv.set('a', { n: 1 });
    const backend = new KeyvUsageBackend(keyv);
    const result = await backend.transact(['a', 'b'], (values) => {
      assert.deepEqual(values.get('a'), { n: 1 });
      assert.equal(values.get('b'), undefined);
      return { writes: new Map<string, unknown>([['b', { n: 2 }]]), result: 'done' };
    });
    assert.equal(result, 'done');
    assert.deepEqual(await backend.get('a'), { n: 1 });
    assert.deepEqual(await backend.get('b'), { n: 2 });
  });

  test('concurrent read-modify-write transactions lose no update', async () => {
    const backend = new KeyvUsageBackend(new Keyv());
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        backend.transact(i % 2 ? ['count', 'other'] : ['other', 'count'], (values) => {
          const n = (values.get('count') as number | undefined) ?? 0;
          return { writes: new Map<string, unknown>([['count', n + 1]]), result: n };
        }),
      ),
    );
    assert.equal(await backend.get('count'), 100);
  });

  test('an update that throws writes nothing and releases the keys', async () => {
    const backend = new KeyvUsageBackend(new Keyv());
    await assert.rejects(
      backend.transact(['a'], () => {
        throw new Error('bad update');
      }),
      /bad update/,
    );
    assert.equal(await backend.get('a'), undefined);
    await backend.transact(['a'], () => ({ writes: new Map<string, unknown>([['a', 1]]), result: undefined }));
    assert.equal(await backend.get('a'), 1);
  });
});
