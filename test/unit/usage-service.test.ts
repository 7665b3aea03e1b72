import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Keyv from 'keyv';
import type { OperatorLimits } from '../../src/config.js';
import { emptyModeration } from '../../src/moderation/policy.js';
import { effectiveRules, GuildSettingsStore, LIMIT_FIELDS, type GuildSettings } from '../../src/usage/guild-settings.js';
import type { GlobalUsage, GuildUsage, LimitRules, Reservation, UserUsage } from '../../src/usage/limits.js';
import { UsageService, type ReserveOutcome } from '../../src/usage/usage-service.js';
import { KeyedMutex, KeyvUsageBackend, type UsageBackend, type Writes } from '../../src/usage/usage-store.js';

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

function operatorLimits(options: SetupOptions): OperatorLimits {
  return {
    ownerIds: new Set(options.ownerIds ?? [OWNER]),
    defaults: { ...NO_LIMITS, ...options.defaults },
    globalDailyCap: options.globalDailyCap ?? null,
    allowDms: false,
  };
}

/**
 * A UsageService over in-memory keyv (or the backend given) with a clock the test moves by hand.
 * `restart()` makes a new service and backend over the same stored data, as a new process would.
 */
function setup(options: SetupOptions & { backend?: UsageBackend } = {}) {
  const operator = operatorLimits(options);
  const usageKeyv = new Keyv();
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

  test('a stray reservation record (not running) holds no slot and counts nothing; settle deletes it and returns false', async () => {
    // As left by a crash between writing a reservation's record and the counters that open it.
    const { service, usageKeyv, restart } = setup({ defaults: { maxConcurrent: 1, dailyLimit: 2 } });
    const delivered = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(await service.settle(delivered, 'delivered'), true);
    const stray: Reservation = { ...delivered, id: 'stray', startedAt: NOW + SECOND, previousLastStartAt: NOW };
    await usageKeyv.set('reservation:stray', stray);
    const after = restart();

    assert.deepEqual(await after.openReservations(), [stray], 'listed, so that start-up can settle it');
    const { view } = await after.quota('g1', 'u1');
    assert.equal(view.running, 0);
    assert.equal(view.dailyLeft, 1);

    assert.equal(await after.settle(stray, 'refunded'), false);
    assert.equal(await usageKeyv.get('reservation:stray'), undefined);
    assert.deepEqual(await after.openReservations(), []);
    // The refund of a reservation that was never counted gave nothing back.
    assert.equal((await after.quota('g1', 'u1')).view.dailyLeft, 1);
    assert.deepEqual(await after.guildUsage('g1'), { day: '2026-11-24', week: '2026-W48', dayByUser: { u1: 1 }, weekByUser: { u1: 1 } });
    assert.equal(await after.settle(stray, 'refunded'), false, 'and again, now that nothing is left');
    // The slot was free all along.
    okReservation(await after.reserve('g1', 'u1'));
  });

  test('a record left after its settlement’s counters were written (a crash before the delete) is not settled twice', async () => {
    const { service, usageKeyv, restart } = setup({ defaults: { dailyLimit: 5 } });
    const r = okReservation(await service.reserve('g1', 'u1'));
    assert.equal(await service.settle(r, 'refunded'), true);
    await usageKeyv.set(`reservation:${r.id}`, r); // as if the delete never happened
    const after = restart();
    assert.deepEqual(await after.openReservations(), [r]);
    assert.equal(await after.settle(r, 'refunded'), false);
    assert.deepEqual(await after.openReservations(), []);
    assert.equal((await after.quota('g1', 'u1')).view.dailyLeft, 5, 'refunded once, not twice');
  });

  test('reservations are stored as their own records, under reservation:<id>', async () => {
    const { service, usageKeyv } = setup();
    const r = okReservation(await service.reserve('g1', 'u1'));
    assert.deepEqual(await usageKeyv.get(`reservation:${r.id}`), r);
    assert.deepEqual(((await usageKeyv.get('user:g1:u1')) as UserUsage).running, [r.id]);
    assert.deepEqual(await usageKeyv.get('global'), { day: '2026-11-24', dayCount: 1 } satisfies GlobalUsage);
    await service.settle(r, 'delivered');
    assert.equal(await usageKeyv.get(`reservation:${r.id}`), undefined);
    assert.deepEqual(((await usageKeyv.get('user:g1:u1')) as UserUsage).running, []);
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
 * A UsageBackend over a Map: each transaction runs at once (so it is atomic), and every
 * transaction's writes are recorded in order. `crashAfterWrites` stores only that many writes
 * of the next transaction that has writes and then throws, as a process killed between two
 * writes would leave the store.
 */
class MemoryBackend implements UsageBackend {
  readonly data = new Map<string, unknown>();
  readonly transactions: Array<{ keys: readonly string[]; writes: Writes }> = [];
  readonly listed: string[] = [];
  crashAfterWrites: number | undefined;

  async transact<T>(keys: readonly string[], update: (values: Map<string, unknown>) => { writes: Writes; result: T }): Promise<T> {
    const { writes, result } = update(new Map(keys.map((key) => [key, structuredClone(this.data.get(key))])));
    this.transactions.push({ keys, writes });
    const crashAt = writes.length > 0 ? this.crashAfterWrites : undefined;
    this.crashAfterWrites = crashAt === undefined ? this.crashAfterWrites : undefined;
    for (const [i, [key, value]] of writes.entries()) {
      if (i === crashAt) throw new Error(`crashed after ${i} writes`);
      if (value === undefined) this.data.delete(key);
      else this.data.set(key, structuredClone(value));
    }
    return result;
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

describe('UsageService: the order of its writes, and crashes between them', () => {
  test('reserve writes the reservation record before the counters that make it open', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend });
    const r = okReservation(await service.reserve('g1', 'u1'));
    assert.deepEqual(backend.lastWrites(), ['reservation:r1', 'user:g1:u1', 'guild:g1', 'global']);
    const [[, record], [, user]] = backend.transactions.at(-1)!.writes as [[string, unknown], [string, UserUsage]];
    assert.deepEqual(record, r);
    assert.deepEqual(user.running, ['r1']);
  });

  test('settle writes the counters before deleting the reservation record', async () => {
    for (const outcome of ['delivered', 'refunded'] as const) {
      const backend = new MemoryBackend();
      const { service } = setup({ backend });
      const r = okReservation(await service.reserve('g1', 'u1'));
      assert.equal(await service.settle(r, outcome), true);
      assert.deepEqual(backend.lastWrites(), ['user:g1:u1', 'guild:g1', 'global', '-reservation:r1'], outcome);
      const [, user] = backend.transactions.at(-1)!.writes[0] as [string, UserUsage];
      assert.deepEqual(user.running, [], outcome);
    }
  });

  test('a settle that finds nothing open writes nothing, or only the stray record’s delete', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend });
    const r = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(r, 'delivered');
    assert.equal(await service.settle(r, 'refunded'), false);
    assert.deepEqual(backend.lastWrites(), []);
    backend.data.set('reservation:stray', { ...r, id: 'stray' });
    assert.equal(await service.settle({ ...r, id: 'stray' }, 'refunded'), false);
    assert.deepEqual(backend.lastWrites(), ['-reservation:stray']);
    assert.equal(backend.data.has('reservation:stray'), false);
  });

  test('a refused reserve writes nothing', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend, defaults: { dailyLimit: 0 } });
    refusalOf(await service.reserve('g1', 'u1'));
    assert.deepEqual(backend.lastWrites(), []);
    assert.equal(backend.data.size, 0);
  });

  test('openReservations lists the reservation: records through the backend', async () => {
    const backend = new MemoryBackend();
    const { service } = setup({ backend });
    const a = okReservation(await service.reserve('g1', 'u1'));
    const b = okReservation(await service.reserve('g2', 'u2'));
    backend.data.set('reservations-note', 'not a reservation');
    assert.deepEqual(await service.openReservations(), [a, b]);
    assert.deepEqual(backend.listed, ['reservation:']);
  });

  test('a crash between any two writes of reserve or settle: start-up reconciliation leaves no slot taken and no record behind', async () => {
    // Start-up refunds every listed reservation, as the task service does for tasks that did not survive.
    const reconcile = async (service: UsageService) => {
      for (const reservation of await service.openReservations()) await service.settle(reservation, 'refunded');
    };
    const check = async (service: UsageService, backend: MemoryBackend, label: string) => {
      assert.deepEqual(await service.openReservations(), [], label);
      assert.deepEqual([...backend.data.keys()].filter((key) => key.startsWith('reservation:')), [], label);
      const { view } = await service.quota('g1', 'u1');
      assert.equal(view.running, 0, label);
      assert.equal(view.dailyLeft, 1, `${label}: the reservation that crashed is not charged`);
      okReservation(await service.reserve('g1', 'u1'));
    };
    for (let crashAfter = 0; crashAfter < 4; crashAfter++) {
      const backend = new MemoryBackend();
      const { service, restart } = setup({ backend, defaults: { maxConcurrent: 1, dailyLimit: 1 } });
      backend.crashAfterWrites = crashAfter;
      await assert.rejects(service.reserve('g1', 'u1'), /crashed/);
      const after = restart(backend);
      await reconcile(after);
      await check(after, backend, `reserve, crash after ${crashAfter} writes`);
    }
    for (let crashAfter = 0; crashAfter < 4; crashAfter++) {
      const backend = new MemoryBackend();
      const { service, restart } = setup({ backend, defaults: { maxConcurrent: 1, dailyLimit: 1 } });
      const r = okReservation(await service.reserve('g1', 'u1'));
      backend.crashAfterWrites = crashAfter;
      await assert.rejects(service.settle(r, 'refunded'), /crashed/);
      const after = restart(backend);
      await reconcile(after);
      await check(after, backend, `refund, crash after ${crashAfter} writes`);
    }
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
      return { writes: [['b', { n: 2 }]], result: 'done' };
    });
    assert.equal(result, 'done');
    assert.deepEqual(await backend.get('a'), { n: 1 });
    assert.deepEqual(await backend.get('b'), { n: 2 });
    assert.deepEqual(await keyv.get('b'), { n: 2 }, 'stored by the time the transaction resolved');
  });

  test('concurrent read-modify-write transactions lose no update', async () => {
    const backend = new KeyvUsageBackend(new Keyv());
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

  test('an update that throws writes nothing and releases the keys', async () => {
    const backend = new KeyvUsageBackend(new Keyv());
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

/**
 * Keyv that records the order of the writes it completed, can hold its next write until the
 * test releases it (so that a batch forms behind it), and can fail the next write of a key.
 */
class ObservedKeyv extends Keyv {
  /** Completed writes in order: `set key` or `delete key`. */
  readonly ops: string[] = [];
  /** What each key held when its last write completed. */
  readonly stored = new Map<string, unknown>();
  /** What the store held right after each completed write: what a crash just then would leave. */
  readonly history: Array<{ op: string; stored: Map<string, unknown> }> = [];
  private hold: Promise<void> | undefined;
  private readonly failures = new Set<string>();

  /** Makes the next write wait; returns what lets it go on. */
  holdNextWrite(): () => void {
    let release!: () => void;
    this.hold = new Promise<void>((resolve) => (release = resolve));
    return release;
  }

  /** Makes the next write of `key` throw (once). */
  failNextWriteOf(key: string): void {
    this.failures.add(key);
  }

  override async set<Value>(key: string, value: Value, ttl?: number): Promise<boolean> {
    await this.before(key);
    const done = await super.set(key, value, ttl);
    this.stored.set(key, value);
    this.completed(`set ${key}`);
    return done;
  }

  override async delete(key: string | string[]): Promise<boolean> {
    await this.before(String(key));
    const done = await super.delete(key);
    this.stored.delete(String(key));
    this.completed(`delete ${key}`);
    return done;
  }

  private completed(op: string): void {
    this.ops.push(op);
    this.history.push({ op, stored: new Map(this.stored) });
  }

  private async before(key: string): Promise<void> {
    const hold = this.hold;
    this.hold = undefined;
    await hold;
    if (this.failures.delete(key)) {
      this.ops.push(`failed ${key}`);
      throw new Error(`could not write ${key}`);
    }
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

  test('many concurrent transactions all resolve; the store ends with exactly the final values, written once each', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    const release = keyv.holdNextWrite(); // the first transaction's commit waits: the others batch up behind it
    const resolvedEarly: number[] = [];
    const transactions = Array.from({ length: 200 }, (_, i) =>
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
          // Resolved only once its writes (or later ones of the same keys) are in the store.
          if (!((keyv.stored.get('count') as number) >= n + 1) || !(keyv.stored.get(`item:${i % 10}`) as number[]).includes(i)) resolvedEarly.push(i);
          return n;
        }),
    );
    const progress = transactions.map(track);
    await ticks(3);
    assert.deepEqual(progress.filter((p) => p.settled !== 'pending'), [], 'nothing resolves before its writes are stored');
    release();

    assert.deepEqual(await Promise.all(transactions), Array.from({ length: 200 }, (_, i) => i));
    assert.deepEqual(resolvedEarly, []);
    // Two commits: the first transaction's writes, then every key once, in the order last written.
    // (item:j was last written by transaction 190 + j; count, item:9 and tmp by transaction 199, which deletes tmp.)
    assert.deepEqual(keyv.ops, [
      'set count',
      'set item:0',
      'set tmp',
      ...Array.from({ length: 9 }, (_, j) => `set item:${j}`),
      'set count',
      'set item:9',
      'delete tmp',
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
    assert.ok(keyv.ops.length < 200, `${keyv.ops.length} writes for 200`);
  });

  test('a transaction resolves once its own writes are stored, not when an earlier batch is', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    const releaseFirst = keyv.holdNextWrite();
    const first = track(put(backend, [['a', 1]]));
    await ticks(2);
    const releaseSecond = keyv.holdNextWrite(); // taken by the next batch's first write
    const second = track(put(backend, [['b', 2]]));
    await ticks(2);
    assert.deepEqual([first.settled, second.settled], ['pending', 'pending']);
    releaseFirst();
    await ticks(3);
    assert.deepEqual([first.settled, second.settled], ['resolved', 'pending']);
    assert.deepEqual(keyv.ops, ['set a']);
    releaseSecond();
    await ticks(3);
    assert.deepEqual([first.settled, second.settled], ['resolved', 'resolved']);
    assert.deepEqual(keyv.ops, ['set a', 'set b']);
  });

  test('a transaction that writes nothing resolves without writing to the store', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    assert.equal(await backend.transact(['a'], () => ({ writes: [], result: 'nothing' })), 'nothing');
    assert.deepEqual(keyv.ops, []);
  });

  test('a key rewritten by a later transaction of the batch moves to the end: each transaction’s writes stay in its order', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    const release = keyv.holdNextWrite(); // a slow first write, so that the rest forms one batch
    const waiting = [
      put(backend, [['x', 0]]),
      put(backend, [['a', 1], ['b', 1]]),
      put(backend, [['c', 2], ['a', 2]]),
      put(backend, [['d', 3], ['b', undefined]]),
    ];
    await ticks(3);
    assert.deepEqual(keyv.ops, []);
    release();
    assert.deepEqual(await Promise.all(waiting), ['x', 'a,b', 'c,a', 'd,b']);
    // Batch 2 in the order last written: c, a (rewritten after c), d, then b (deleted after d).
    assert.deepEqual(keyv.ops, ['set x', 'set c', 'set a', 'set d', 'delete b']);
    const fresh = new KeyvUsageBackend(keyv);
    assert.deepEqual(
      await Promise.all(['x', 'a', 'b', 'c', 'd'].map((key) => fresh.get(key))),
      [0, 2, undefined, 2, 3],
    );
  });

  test('a key rewritten within one batch is written after the earlier transaction’s other keys', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    const release = keyv.holdNextWrite();
    const waiting = [put(backend, [['x', 0]]), put(backend, [['a', 1], ['b', 1]]), put(backend, [['a', 2]])];
    await ticks(3);
    release();
    await Promise.all(waiting);
    assert.deepEqual(keyv.ops, ['set x', 'set b', 'set a']);
    assert.equal(keyv.stored.get('a'), 2);
  });

  test('a failing write rejects every transaction of its batch; a following transaction sees what the store holds', async () => {
    const keyv = new ObservedKeyv();
    await keyv.set('a', 1);
    await keyv.set('b', 1);
    keyv.ops.length = 0;
    const backend = new KeyvUsageBackend(keyv);
    const release = keyv.holdNextWrite();
    const first = put(backend, [['z', 1]]); // its own batch, which succeeds
    await ticks(2);
    keyv.failNextWriteOf('a');
    const failing = [
      backend.transact(['a'], (values) => ({ writes: [['a', (values.get('a') as number) + 1]], result: 'a' })),
      backend.transact(['b'], (values) => ({ writes: [['b', (values.get('b') as number) + 1]], result: 'b' })),
    ];
    const settled = Promise.allSettled(failing);
    await ticks(2);
    release();
    assert.equal(await first, 'z');
    const outcomes = await settled;
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.status)),
      ['could not write a', 'could not write a'],
    );
    assert.deepEqual(keyv.ops, ['set z', 'failed a']);

    // The memory copy had a = 2 and b = 2; the store still has 1 and 1, and that is what is read now.
    const seen = await backend.transact(['a', 'b', 'z'], (values) => ({ writes: [['a', (values.get('a') as number) + 10]], result: [...values.values()] }));
    assert.deepEqual(seen, [1, 1, 1]);
    assert.deepEqual(await backend.get('b'), 1);
    const fresh = new KeyvUsageBackend(keyv);
    assert.deepEqual(await Promise.all(['a', 'b', 'z'].map((key) => fresh.get(key))), [11, 1, 1]);
  });

  test('a write failing part-way through a batch: what was stored stays, what was not is read back as it was', async () => {
    const keyv = new ObservedKeyv();
    const backend = new KeyvUsageBackend(keyv);
    keyv.failNextWriteOf('d');
    await assert.rejects(put(backend, [['c', 5], ['d', 5]]), /could not write d/);
    assert.deepEqual(keyv.ops, ['set c', 'failed d']);
    const seen = await backend.transact(['c', 'd'], (values) => ({ writes: [], result: [values.get('c'), values.get('d')] }));
    assert.deepEqual(seen, [5, undefined]);
    assert.equal(await backend.get('d'), undefined);
    // And the backend goes on working.
    assert.equal(await put(backend, [['d', 6]]), 'd');
    assert.equal(await new KeyvUsageBackend(keyv).get('d'), 6);
  });

  test('through UsageService, a crash after any single write leaves every running reservation with its record', async () => {
    const keyv = new ObservedKeyv();
    const { service, advance } = setup({ backend: new KeyvUsageBackend(keyv), defaults: { maxConcurrent: 3 } });
    const a = okReservation(await service.reserve('g1', 'u1'));
    const b = okReservation(await service.reserve('g1', 'u1'));
    await service.settle(a, 'delivered');
    advance(SECOND);
    const c = okReservation(await service.reserve('g1', 'u1'));
    await Promise.all([service.settle(b, 'refunded'), service.settle(c, 'delivered'), service.reserve('g2', 'u2')]);
    assert.ok(keyv.history.length >= 20);
    for (const { op, stored } of keyv.history) {
      const running = (stored.get('user:g1:u1') as UserUsage | undefined)?.running ?? [];
      for (const id of running) assert.ok(stored.has(`reservation:${id}`), `after "${op}" ${id} runs without a record`);
    }
    const final = keyv.history.at(-1)!.stored;
    assert.deepEqual((final.get('user:g1:u1') as UserUsage).running, []);
    assert.deepEqual([...final.keys()].filter((key) => key.startsWith('reservation:')), ['reservation:r4']);
    assert.deepEqual((final.get('guild:g1') as GuildUsage).dayByUser, { u1: 2 });
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
      await ticks(2);
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

  test(
    'a settle and a reserve of the same user in one batch, a crash after any write: the start-up repair frees every slot',
    {},
    async () => {
      const keyv = new ObservedKeyv();
      const { service } = setup({ backend: new KeyvUsageBackend(keyv), defaults: { maxConcurrent: 1 } });
      const a = okReservation(await service.reserve('g1', 'u1'));
      keyv.ops.length = 0;
      const release = keyv.holdNextWrite();
      const elsewhere = service.reserve('g2', 'u9'); // keeps the writer busy so the next two share a batch
      await ticks(2);
      const settled = service.settle(a, 'delivered');
      await ticks(2);
      const next = service.reserve('g1', 'u1');
      await ticks(2);
      release();
      await Promise.all([elsewhere, settled, next]);
      // A crash right after any write, then a restart: once repaired, every video the user still
      // counts as running has its record, so no slot is held for ever.
      for (const { op, stored } of keyv.history) {
        const crashed = new Keyv();
        for (const [key, value] of stored) await crashed.set(key, value);
        const restarted = setup({ backend: new KeyvUsageBackend(crashed) }).service;
        await restarted.repair();
        const running = ((await crashed.get('user:g1:u1')) as UserUsage | undefined)?.running ?? [];
        for (const id of running) assert.ok(await crashed.has(`reservation:${id}`), `after "${op}" and a repair, ${id} runs without a record (${keyv.ops.join(', ')})`);
      }
    },
  );
});

describe('KeyvUsageBackend: list', () => {
  test('lists every stored key with the prefix, with its value, and no other', async () => {
    const keyv = new Keyv();
    const backend = new KeyvUsageBackend(keyv);
    await put(backend, [['reservation:a', { id: 'a' }], ['reservation:b', { id: 'b' }], ['user:g1:u1', { n: 1 }], ['reservations', 1]]);
    await put(backend, [['reservation:b', undefined], ['reservation:c', { id: 'c' }]]);
    const listed = await backend.list('reservation:');
    assert.deepEqual(listed.sort(([x], [y]) => x.localeCompare(y)), [
      ['reservation:a', { id: 'a' }],
      ['reservation:c', { id: 'c' }],
    ]);
    assert.deepEqual(await backend.list('nothing:'), []);
  });

  function put(backend: KeyvUsageBackend, writes: Writes) {
    return backend.transact(writes.map(([key]) => key), () => ({ writes, result: undefined }));
  }
});
