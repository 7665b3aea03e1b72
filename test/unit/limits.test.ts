import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyReservation,
  applySettlement,
  checkLimits,
  emptySnapshot,
  evaluateLimits,
  isOpen,
  isoWeek,
  nextIsoWeekStart,
  nextUtcMidnight,
  quotaView,
  rollOver,
  guildUsageOf,
  utcDay,
  type GlobalUsage,
  type GuildUsage,
  type Limit,
  type LimitRules,
  type Refusal,
  type Reservation,
  type Settlement,
  type UsageSnapshot,
  type UserUsage,
} from '../../src/usage/limits.js';

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Tuesday 2026-11-24 12:00 UTC, in ISO week 2026-W48 (Monday 2026-11-23 to Sunday 2026-11-29). */
const NOW = Date.UTC(2026, 10, 24, 12);
const TUESDAY_MIDNIGHT = Date.UTC(2026, 10, 24);
const WEDNESDAY = Date.UTC(2026, 10, 25);
const NEXT_MONDAY = Date.UTC(2026, 10, 30);

const RULES: LimitRules = { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 50 };
const UNLIMITED: LimitRules = { dailyLimit: null, weeklyLimit: null, cooldownSeconds: 0, maxConcurrent: null, serverDailyCap: null };
const GLOBAL_CAP = 1000;
const SETTLEMENTS = ['delivered', 'refunded', 'billed'] as const satisfies readonly Settlement[];

interface SnapshotPatch {
  user?: Partial<UserUsage>;
  guild?: Partial<GuildUsage>;
  global?: Partial<GlobalUsage>;
}

/** An empty snapshot at `now` with some fields replaced. */
function snapshotAt(now: number, patch: SnapshotPatch = {}): UsageSnapshot {
  const empty = emptySnapshot(now);
  return {
    user: { ...empty.user, ...patch.user },
    guild: { ...empty.guild, ...patch.guild },
    global: { ...empty.global, ...patch.global },
  };
}

/** Reserves as UsageService does: the periods and previous start come from the rolled-over snapshot. */
function reserveIn(snapshot: UsageSnapshot, id: string, startedAt: number, userId = 'u1', guildId = 'g1') {
  const reservation: Reservation = {
    id,
    guildId,
    userId,
    day: snapshot.user.day,
    week: snapshot.user.week,
    startedAt,
    previousLastStartAt: snapshot.user.lastStartAt,
  };
  return { reservation, snapshot: applyReservation(snapshot, reservation) };
}

function rules(overrides: Partial<LimitRules>): LimitRules {
  return { ...RULES, ...overrides };
}

/** Deep-freezes a value so an accidental mutation by the code under test throws. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('utcDay', () => {
  test('is the UTC calendar date', () => {
    assert.equal(utcDay(NOW), '2026-11-24');
    assert.equal(utcDay(TUESDAY_MIDNIGHT), '2026-11-24');
    assert.equal(utcDay(WEDNESDAY - 1), '2026-11-24');
    assert.equal(utcDay(WEDNESDAY), '2026-11-25');
  });

  test('crosses months and years', () => {
    assert.equal(utcDay(Date.UTC(2026, 11, 31, 23, 59, 59, 999)), '2026-12-31');
    assert.equal(utcDay(Date.UTC(2027, 0, 1)), '2027-01-01');
    assert.equal(utcDay(Date.UTC(2028, 1, 29, 6)), '2028-02-29');
  });
});

/** ISO 8601 week by the ordinal-date formula, independent of the implementation under test. */
function referenceIsoWeek(now: number): string {
  const date = new Date(now);
  const y = date.getUTCFullYear();
  const weeksIn = (year: number) => {
    const p = (n: number) => (n + Math.floor(n / 4) - Math.floor(n / 100) + Math.floor(n / 400)) % 7;
    return p(year) === 4 || p(year - 1) === 3 ? 53 : 52;
  };
  const ordinal = Math.floor((Date.UTC(y, date.getUTCMonth(), date.getUTCDate()) - Date.UTC(y, 0, 1)) / DAY) + 1;
  const weekday = date.getUTCDay() || 7;
  let week = Math.floor((ordinal - weekday + 10) / 7);
  let year = y;
  if (week < 1) {
    year = y - 1;
    week = weeksIn(year);
  } else if (week > weeksIn(y)) {
    year = y + 1;
    week = 1;
  }
  return `${year}-W${String(week).padStart(2, '0')}`;
}

describe('isoWeek', () => {
  test('the week of the fixed clock', () => {
    assert.equal(isoWeek(NOW), '2026-W48');
  });

  test('year boundaries', () => {
    assert.equal(isoWeek(Date.UTC(2020, 11, 31)), '2020-W53');
    assert.equal(isoWeek(Date.UTC(2021, 0, 1)), '2020-W53');
    assert.equal(isoWeek(Date.UTC(2021, 0, 3, 23, 59, 59, 999)), '2020-W53');
    assert.equal(isoWeek(Date.UTC(2021, 0, 3)), '2020-W53');
    assert.equal(isoWeek(Date.UTC(2021, 0, 4)), '2021-W01');
    assert.equal(isoWeek(Date.UTC(2024, 11, 29)), '2024-W52');
    assert.equal(isoWeek(Date.UTC(2024, 11, 30)), '2025-W01');
    assert.equal(isoWeek(Date.UTC(2025, 0, 1)), '2025-W01');
    assert.equal(isoWeek(Date.UTC(2026, 11, 31)), '2026-W53');
    assert.equal(isoWeek(Date.UTC(2027, 0, 1)), '2026-W53');
    assert.equal(isoWeek(Date.UTC(2027, 0, 3)), '2026-W53');
    assert.equal(isoWeek(Date.UTC(2027, 0, 4)), '2027-W01');
  });

  test('pads single-digit weeks', () => {
    assert.equal(isoWeek(Date.UTC(2026, 0, 5)), '2026-W02');
    assert.equal(isoWeek(Date.UTC(2026, 2, 1)), '2026-W09');
    assert.equal(isoWeek(Date.UTC(2026, 2, 2)), '2026-W10');
  });

  test('Monday 00:00 starts a week and Sunday 23:59:59.999 ends one', () => {
    const monday = Date.UTC(2026, 10, 23);
    assert.equal(isoWeek(monday - 1), '2026-W47');
    assert.equal(isoWeek(monday), '2026-W48');
    for (let d = 0; d < 7; d++) assert.equal(isoWeek(monday + d * DAY + 13 * HOUR), '2026-W48');
    assert.equal(isoWeek(NEXT_MONDAY - 1), '2026-W48');
    assert.equal(isoWeek(NEXT_MONDAY), '2026-W49');
  });

  test('agrees with the ordinal-date formula on every day from 1990 to 2060', () => {
    for (let t = Date.UTC(1990, 0, 1) + 7 * HOUR; t < Date.UTC(2061, 0, 1); t += DAY) {
      const expected = referenceIsoWeek(t);
      if (isoWeek(t) !== expected) assert.fail(`${new Date(t).toISOString()}: ${isoWeek(t)} !== ${expected}`);
    }
  });
});

describe('nextUtcMidnight', () => {
  test('is the start of the next UTC day', () => {
    assert.equal(nextUtcMidnight(NOW), WEDNESDAY);
    assert.equal(nextUtcMidnight(WEDNESDAY - 1), WEDNESDAY);
    assert.equal(nextUtcMidnight(TUESDAY_MIDNIGHT + 1), WEDNESDAY);
  });

  test('is strictly after now, even at midnight', () => {
    assert.equal(nextUtcMidnight(TUESDAY_MIDNIGHT), WEDNESDAY);
    assert.equal(nextUtcMidnight(WEDNESDAY), WEDNESDAY + DAY);
  });

  test('crosses months and years', () => {
    assert.equal(nextUtcMidnight(Date.UTC(2026, 11, 31, 18)), Date.UTC(2027, 0, 1));
    assert.equal(nextUtcMidnight(Date.UTC(2028, 1, 28, 18)), Date.UTC(2028, 1, 29));
  });
});

describe('nextIsoWeekStart', () => {
  test('is the next Monday 00:00 UTC', () => {
    assert.equal(nextIsoWeekStart(NOW), NEXT_MONDAY);
    assert.equal(nextIsoWeekStart(NEXT_MONDAY - 1), NEXT_MONDAY); // Sunday 23:59:59.999
    assert.equal(nextIsoWeekStart(Date.UTC(2026, 10, 29, 0)), NEXT_MONDAY); // Sunday 00:00
    assert.equal(nextIsoWeekStart(Date.UTC(2026, 10, 23, 0, 0, 0, 1)), NEXT_MONDAY); // Monday 00:00:00.001
  });

  test('at exactly Monday 00:00 it is the following Monday', () => {
    assert.equal(nextIsoWeekStart(NEXT_MONDAY), NEXT_MONDAY + 7 * DAY);
    assert.equal(nextIsoWeekStart(Date.UTC(2026, 10, 23)), NEXT_MONDAY);
  });

  test('crosses years', () => {
    assert.equal(nextIsoWeekStart(Date.UTC(2026, 11, 31, 9)), Date.UTC(2027, 0, 4));
    assert.equal(nextIsoWeekStart(Date.UTC(2024, 11, 25)), Date.UTC(2024, 11, 30));
  });

  test('is always a Monday 00:00 UTC strictly after now, at most a week away, and starts the next ISO week', () => {
    // Every 37 minutes over ten weeks, plus every Monday midnight and the millisecond around it.
    const times: number[] = [];
    for (let t = Date.UTC(2026, 11, 1); t < Date.UTC(2027, 1, 10); t += 37 * 60_000) times.push(t);
    for (let monday = Date.UTC(2026, 10, 2); monday < Date.UTC(2027, 2, 1); monday += 7 * DAY) times.push(monday - 1, monday, monday + 1);
    for (const now of times) {
      const next = nextIsoWeekStart(now);
      const at = new Date(next);
      const label = new Date(now).toISOString();
      assert.equal(at.getUTCDay(), 1, label);
      assert.equal(next % DAY, 0, label);
      assert.ok(next > now, label);
      assert.ok(next - now <= 7 * DAY, label);
      assert.notEqual(isoWeek(next), isoWeek(now), label);
      assert.equal(isoWeek(next - 1), isoWeek(now), label);
    }
  });
});

describe('emptySnapshot', () => {
  test('starts with nothing counted in the current periods', () => {
    assert.deepEqual(emptySnapshot(NOW), {
      user: { day: '2026-11-24', dayCount: 0, week: '2026-W48', weekCount: 0, lastStartAt: null, running: [] },
      guild: { day: '2026-11-24', week: '2026-W48', dayCount: 0, weekCount: 0 },
      global: { day: '2026-11-24', dayCount: 0 },
    });
  });
});

describe('rollOver', () => {
  const open: Reservation = {
    id: 'r1',
    guildId: 'g1',
    userId: 'u1',
    day: '2026-11-24',
    week: '2026-W48',
    startedAt: NOW - HOUR,
    previousLastStartAt: null,
  };
  const used = () =>
    deepFreeze(
      snapshotAt(NOW, {
        user: { dayCount: 3, weekCount: 7, lastStartAt: NOW - HOUR, running: ['r1'] },
        guild: { dayCount: 7, weekCount: 16 },
        global: { dayCount: 11 },
      }),
    );

  test('within the same day nothing changes', () => {
    const before = used();
    const after = rollOver(before, WEDNESDAY - 1);
    assert.deepEqual(after, before);
  });

  test('a new day zeroes day counts but keeps the week’s', () => {
    const after = rollOver(used(), WEDNESDAY + HOUR);
    assert.deepEqual(after, {
      user: { day: '2026-11-25', dayCount: 0, week: '2026-W48', weekCount: 7, lastStartAt: NOW - HOUR, running: ['r1'] },
      guild: { day: '2026-11-25', week: '2026-W48', dayCount: 0, weekCount: 16 },
      global: { day: '2026-11-25', dayCount: 0 },
    });
  });

  test('a new week zeroes week counts too', () => {
    const after = rollOver(used(), NEXT_MONDAY);
    assert.deepEqual(after, {
      user: { day: '2026-11-30', dayCount: 0, week: '2026-W49', weekCount: 0, lastStartAt: NOW - HOUR, running: ['r1'] },
      guild: { day: '2026-11-30', week: '2026-W49', dayCount: 0, weekCount: 0 },
      global: { day: '2026-11-30', dayCount: 0 },
    });
  });

  test('a week roll-over long after still keeps open reservations and running videos', () => {
    const after = rollOver(used(), NOW + 400 * DAY);
    assert.deepEqual(after.user.running, ['r1']);
    assert.equal(isOpen(after, 'r1'), true);
    assert.equal(after.user.dayCount, 0);
    assert.equal(after.user.weekCount, 0);
    assert.equal(after.user.lastStartAt, NOW - HOUR);
    assert.deepEqual(after.global, { day: '2027-12-29', dayCount: 0 });
    // ...and the reservation can still be settled then, taking nothing back from the new periods.
    const settled = applySettlement(after, open, 'refunded');
    assert.deepEqual(settled.user.running, []);
    assert.equal(settled.user.lastStartAt, null, 'its cooldown is given back');
    assert.equal(settled.user.dayCount, 0);
    assert.equal(settled.user.weekCount, 0);
    assert.deepEqual(settled.guild, after.guild);
    assert.deepEqual(settled.global, after.global);
  });

  test('each record rolls over on its own', () => {
    // The user's record is from last week; the guild's and the global ones are from today.
    const lastWeek = snapshotAt(NOW - 7 * DAY, { user: { dayCount: 4, weekCount: 9 } });
    const snapshot: UsageSnapshot = {
      user: lastWeek.user,
      guild: { day: '2026-11-24', week: '2026-W48', dayCount: 2, weekCount: 5 },
      global: { day: '2026-11-24', dayCount: 2 },
    };
    const after = rollOver(snapshot, NOW);
    assert.deepEqual(after.user, { day: '2026-11-24', dayCount: 0, week: '2026-W48', weekCount: 0, lastStartAt: null, running: [] });
    assert.deepEqual(after.guild, snapshot.guild);
    assert.deepEqual(after.global, snapshot.global);
  });

  test('the input is not mutated', () => {
    const before = used();
    const after = rollOver(before, NOW);
    assert.notEqual(after.user, before.user);
    assert.notEqual(after.guild, before.guild);
    assert.equal(after.user.running, before.user.running);
    assert.deepEqual(after, before);
    // What applies a reservation builds new records, and leaves the shared ones as they were.
    const reserved = applyReservation(after, { id: 'r2', guildId: 'g', userId: 'u1', day: after.user.day, week: after.user.week, startedAt: NOW, previousLastStartAt: null });
    assert.equal(before.guild.dayCount, 7);
    assert.deepEqual(before.user.running, ['r1']);
    assert.equal(reserved.guild.dayCount, 8);
  });

  test('a new day gives a fresh global record and leaves the old one alone', () => {
    const before = used();
    const after = rollOver(before, WEDNESDAY);
    assert.notEqual(after.global, before.global);
    assert.deepEqual(before.global, { day: '2026-11-24', dayCount: 11 });
  });

  test('a clock stepped back within the week keeps the later day and its counts', () => {
    const before = used();
    const after = rollOver(before, TUESDAY_MIDNIGHT - HOUR); // Monday 23:00, same ISO week
    assert.deepEqual(after, before);
  });

  test('a clock stepped back across a week keeps the later day, the later week and all their counts', () => {
    const before = used();
    const after = rollOver(before, NOW - 7 * DAY);
    assert.deepEqual(after, before);
    // Every limit still sees what was used: stepping back gives no second allowance.
    assert.equal(checkLimits(rules({ dailyLimit: 3 }), GLOBAL_CAP, after, NOW - 7 * DAY)?.limit, 'daily');
    assert.equal(checkLimits(rules({ dailyLimit: null, weeklyLimit: 7 }), GLOBAL_CAP, after, NOW - 7 * DAY)?.limit, 'weekly');
    assert.equal(checkLimits(UNLIMITED, 11, after, NOW - 7 * DAY)?.limit, 'global');
  });

  test('each period moves only forwards, on its own: a later stored day in the current week, an earlier stored week', () => {
    // Stored on Wednesday of W48; the clock now says Tuesday of W48 (stepped back) for the days…
    const wednesday = snapshotAt(WEDNESDAY, { user: { dayCount: 2, weekCount: 2 }, guild: { dayCount: 2, weekCount: 2 }, global: { dayCount: 2 } });
    assert.deepEqual(rollOver(wednesday, NOW), wednesday);
    // …while a record from last week rolls forward as usual next to one from "tomorrow".
    const mixed: UsageSnapshot = { ...wednesday, user: snapshotAt(NOW - 7 * DAY, { user: { dayCount: 4, weekCount: 9 } }).user };
    const after = rollOver(mixed, NOW);
    assert.deepEqual(after.user, emptySnapshot(NOW).user);
    assert.deepEqual(after.guild, wednesday.guild);
    assert.deepEqual(after.global, wednesday.global);
  });

  test('weeks compare across a year boundary: 2027-W01 is later than 2026-W53', () => {
    const firstWeekOf2027 = Date.UTC(2027, 0, 4, 12); // Monday of 2027-W01
    const lastWeekOf2026 = Date.UTC(2026, 11, 31, 12); // Thursday of 2026-W53
    assert.equal(isoWeek(lastWeekOf2026), '2026-W53');
    const stored = snapshotAt(firstWeekOf2027, { user: { weekCount: 3 }, guild: { weekCount: 3 } });
    const back = rollOver(stored, lastWeekOf2026);
    assert.equal(back.user.week, '2027-W01');
    assert.equal(back.user.weekCount, 3);
    assert.equal(back.guild.weekCount, 3);
    const forward = rollOver(snapshotAt(lastWeekOf2026, { user: { weekCount: 3 } }), firstWeekOf2027);
    assert.equal(forward.user.week, '2027-W01');
    assert.equal(forward.user.weekCount, 0);
  });

  test('a reservation counted before the clock stepped back is still refunded from the periods it was counted in', () => {
    const counted = reserveIn(emptySnapshot(WEDNESDAY + HOUR), 'r1', WEDNESDAY + HOUR);
    const after = applySettlement(rollOver(counted.snapshot, NOW), counted.reservation, 'refunded');
    assert.deepEqual(after, emptySnapshot(WEDNESDAY));
  });
});

describe('guildUsageOf', () => {
  test('a record kept by user, as servers’ were before their totals, reads as its totals', () => {
    const legacy = { day: '2026-11-24', week: '2026-W48', dayByUser: { a: 1, b: 2, c: 3 }, weekByUser: { a: 10, b: 5 } };
    assert.deepEqual(guildUsageOf(legacy), { day: '2026-11-24', week: '2026-W48', dayCount: 6, weekCount: 15 });
    assert.deepEqual(guildUsageOf({ day: '2026-11-24', week: '2026-W48', dayByUser: {}, weekByUser: {} }), emptySnapshot(NOW).guild);
  });

  test('a record of totals is read as it is', () => {
    const guild: GuildUsage = { day: '2026-11-24', week: '2026-W48', dayCount: 6, weekCount: 15 };
    assert.equal(guildUsageOf(guild), guild);
  });
});

describe('checkLimits', () => {
  test('a fresh user may start', () => {
    assert.equal(checkLimits(RULES, GLOBAL_CAP, emptySnapshot(NOW), NOW), null);
  });

  test('concurrency: refused at maxConcurrent running videos, with no retry time', () => {
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { running: ['a'] } }), NOW), null);
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { running: ['a', 'b'] } }), NOW), {
      limit: 'concurrency',
      retryAt: undefined,
      hits: ['concurrency'],
    });
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { running: ['a', 'b', 'c'] } }), NOW), {
      limit: 'concurrency',
      retryAt: undefined,
      hits: ['concurrency'],
    });
  });

  test('cooldown: refused until exactly lastStartAt + cooldown, which is the retry time', () => {
    const start = NOW - 10 * SECOND;
    const snapshot = snapshotAt(NOW, { user: { lastStartAt: start } });
    const until = start + 60 * SECOND;
    const cooldown: Refusal = { limit: 'cooldown', retryAt: until, hits: ['cooldown'] };
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshot, NOW), cooldown);
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshot, start), cooldown);
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshot, until - 1), cooldown);
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshot, until), null);
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshot, until + 1), null);
  });

  test('cooldown: none without a previous start or with cooldownSeconds 0', () => {
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { lastStartAt: null } }), NOW), null);
    assert.equal(checkLimits(rules({ cooldownSeconds: 0 }), GLOBAL_CAP, snapshotAt(NOW, { user: { lastStartAt: NOW } }), NOW), null);
  });

  test('daily: refused at dailyLimit, retry at the next UTC midnight', () => {
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { dayCount: 4, weekCount: 4 } }), NOW), null);
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { dayCount: 5, weekCount: 5 } }), NOW), {
      limit: 'daily',
      retryAt: WEDNESDAY,
      hits: ['daily'],
    });
  });

  test('weekly: refused at weeklyLimit, retry at the next Monday 00:00 UTC', () => {
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { weekCount: 19 } }), NOW), null);
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { weekCount: 20 } }), NOW), {
      limit: 'weekly',
      retryAt: NEXT_MONDAY,
      hits: ['weekly'],
    });
  });

  test('server: refused when the whole server reached its daily cap, retry at the next UTC midnight', () => {
    const almost = snapshotAt(NOW, { guild: { dayCount: 49 } });
    assert.equal(checkLimits(RULES, GLOBAL_CAP, almost, NOW), null);
    const full = snapshotAt(NOW, { guild: { dayCount: 50 } });
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, full, NOW), { limit: 'server', retryAt: WEDNESDAY, hits: ['server'] });
  });

  test('server: the week’s counts do not count against the daily cap', () => {
    const snapshot = snapshotAt(NOW, { guild: { weekCount: 500 } });
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshot, NOW), null);
  });

  test('global: refused when every server together reached the operator’s cap, retry at the next UTC midnight', () => {
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { global: { dayCount: 999 } }), NOW), null);
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { global: { dayCount: 1000 } }), NOW), {
      limit: 'global',
      retryAt: WEDNESDAY,
      hits: ['global'],
    });
    assert.equal(checkLimits(RULES, null, snapshotAt(NOW, { global: { dayCount: 1_000_000 } }), NOW), null);
  });

  test('every limit hit is listed, in checking order: concurrency, cooldown, daily, weekly, server, global', () => {
    const everything: SnapshotPatch = {
      user: { running: ['a', 'b'], lastStartAt: NOW - SECOND, dayCount: 5, weekCount: 20 },
      guild: { dayCount: 50 },
      global: { dayCount: 1000 },
    };
    // Lifting the limits one by one, in checking order; the limit named is the one lasting longest.
    const steps: Array<[Partial<LimitRules>, Refusal]> = [
      [{}, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['concurrency', 'cooldown', 'daily', 'weekly', 'server', 'global'] }],
      [{ maxConcurrent: null }, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['cooldown', 'daily', 'weekly', 'server', 'global'] }],
      [{ maxConcurrent: null, cooldownSeconds: 0 }, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['daily', 'weekly', 'server', 'global'] }],
      [{ maxConcurrent: null, cooldownSeconds: 0, dailyLimit: null }, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['weekly', 'server', 'global'] }],
      [{ maxConcurrent: null, cooldownSeconds: 0, dailyLimit: null, weeklyLimit: null }, { limit: 'global', retryAt: WEDNESDAY, hits: ['server', 'global'] }],
      [
        { maxConcurrent: null, cooldownSeconds: 0, dailyLimit: null, weeklyLimit: null, serverDailyCap: null },
        { limit: 'global', retryAt: WEDNESDAY, hits: ['global'] },
      ],
    ];
    for (const [lifted, expected] of steps) {
      assert.deepEqual(checkLimits(rules(lifted), GLOBAL_CAP, snapshotAt(NOW, everything), NOW), expected, JSON.stringify(lifted));
    }
    assert.equal(checkLimits(UNLIMITED, null, snapshotAt(NOW, everything), NOW), null);
  });

  test('0 means none allowed, for every count limit', () => {
    const fresh = emptySnapshot(NOW);
    assert.deepEqual(checkLimits(rules({ maxConcurrent: 0 }), GLOBAL_CAP, fresh, NOW), { limit: 'concurrency', retryAt: undefined, hits: ['concurrency'] });
    assert.deepEqual(checkLimits(rules({ dailyLimit: 0 }), GLOBAL_CAP, fresh, NOW), { limit: 'daily', retryAt: WEDNESDAY, hits: ['daily'] });
    assert.deepEqual(checkLimits(rules({ weeklyLimit: 0 }), GLOBAL_CAP, fresh, NOW), { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['weekly'] });
    assert.deepEqual(checkLimits(rules({ serverDailyCap: 0 }), GLOBAL_CAP, fresh, NOW), { limit: 'server', retryAt: WEDNESDAY, hits: ['server'] });
    assert.deepEqual(checkLimits(RULES, 0, fresh, NOW), { limit: 'global', retryAt: WEDNESDAY, hits: ['global'] });
  });

  test('null means unlimited, however much was used', () => {
    const heavy = snapshotAt(NOW, {
      user: { running: Array.from({ length: 50 }, (_, i) => `r${i}`), dayCount: 10_000, weekCount: 70_000 },
      guild: { dayCount: 100_000 },
      global: { dayCount: 1_000_000 },
    });
    assert.equal(checkLimits(UNLIMITED, null, heavy, NOW), null);
  });

  test('a limit lowered below what was already used still refuses', () => {
    assert.equal(checkLimits(rules({ dailyLimit: 2 }), GLOBAL_CAP, snapshotAt(NOW, { user: { dayCount: 4 } }), NOW)?.limit, 'daily');
  });

  test('retryAt says when trying again can succeed, also when several allowances are used up', () => {
    // Daily and weekly both used up on a Tuesday: retrying at the next midnight would still be
    // refused by the weekly limit, so the weekly limit is the one named, with its own time.
    const snapshot = snapshotAt(NOW, { user: { dayCount: 5, weekCount: 20 } });
    const refusal = checkLimits(RULES, GLOBAL_CAP, snapshot, NOW);
    assert.deepEqual(refusal, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['daily', 'weekly'] });
    assert.ok(refusal?.retryAt !== undefined);
    const atRetry = rollOver(snapshot, refusal.retryAt);
    assert.equal(checkLimits(RULES, GLOBAL_CAP, atRetry, refusal.retryAt), null);
    // A millisecond earlier (Sunday, still the same week) the weekly limit still refuses.
    const justBefore = rollOver(snapshot, refusal.retryAt - 1);
    assert.equal(checkLimits(RULES, GLOBAL_CAP, justBefore, refusal.retryAt - 1)?.limit, 'weekly');
  });

  test('the limit named lasts longest: an allowance or cap resetting last, else a video in progress, else the cooldown', () => {
    // retryAt is the latest time of every timed limit hit (a video in progress has none).
    const cases: Array<[string, SnapshotPatch, LimitRules, Limit, Refusal]> = [
      // In cooldown and the day used up: told about the day's allowance (midnight), not the cooldown.
      ['cooldown + daily', { user: { lastStartAt: NOW - SECOND, dayCount: 5 } }, RULES, GLOBAL_CAP, { limit: 'daily', retryAt: WEDNESDAY, hits: ['cooldown', 'daily'] }],
      // A cooldown ending after midnight: still the allowance, but with the cooldown's end.
      [
        'long cooldown + daily',
        { user: { lastStartAt: NOW, dayCount: 5 } },
        rules({ cooldownSeconds: 13 * 3600 }),
        GLOBAL_CAP,
        { limit: 'daily', retryAt: NOW + 13 * HOUR, hits: ['cooldown', 'daily'] },
      ],
      ['daily + weekly', { user: { dayCount: 5, weekCount: 20 } }, RULES, GLOBAL_CAP, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['daily', 'weekly'] }],
      // Same midnight: a tie, won by the wider limit (later in checking order).
      ['daily + server', { user: { dayCount: 5 }, guild: { dayCount: 50 } }, RULES, GLOBAL_CAP, { limit: 'server', retryAt: WEDNESDAY, hits: ['daily', 'server'] }],
      [
        'daily + server + global',
        { user: { dayCount: 5 }, guild: { dayCount: 50 }, global: { dayCount: 1000 } },
        RULES,
        GLOBAL_CAP,
        { limit: 'global', retryAt: WEDNESDAY, hits: ['daily', 'server', 'global'] },
      ],
      ['server + weekly', { user: { weekCount: 20 }, guild: { dayCount: 50 } }, RULES, GLOBAL_CAP, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['weekly', 'server'] }],
      ['global + weekly', { user: { weekCount: 20 }, global: { dayCount: 1000 } }, RULES, GLOBAL_CAP, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['weekly', 'global'] }],
      ['server + global', { guild: { dayCount: 50 }, global: { dayCount: 1000 } }, RULES, GLOBAL_CAP, { limit: 'global', retryAt: WEDNESDAY, hits: ['server', 'global'] }],
      // A video in progress: named only when no allowance or cap is hit, and then with no time.
      ['concurrency alone', { user: { running: ['a', 'b'] } }, RULES, GLOBAL_CAP, { limit: 'concurrency', retryAt: undefined, hits: ['concurrency'] }],
      [
        'concurrency + cooldown',
        { user: { running: ['a', 'b'], lastStartAt: NOW - SECOND } },
        RULES,
        GLOBAL_CAP,
        { limit: 'concurrency', retryAt: undefined, hits: ['concurrency', 'cooldown'] },
      ],
      ['concurrency + daily', { user: { running: ['a', 'b'], dayCount: 5 } }, RULES, GLOBAL_CAP, { limit: 'daily', retryAt: WEDNESDAY, hits: ['concurrency', 'daily'] }],
      [
        'concurrency + every other limit',
        { user: { running: ['a', 'b'], lastStartAt: NOW, dayCount: 5, weekCount: 20 }, guild: { dayCount: 50 }, global: { dayCount: 1000 } },
        RULES,
        GLOBAL_CAP,
        { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['concurrency', 'cooldown', 'daily', 'weekly', 'server', 'global'] },
      ],
    ];
    for (const [label, patch, ruleSet, cap, expected] of cases) {
      const snapshot = snapshotAt(NOW, patch);
      const refusal = checkLimits(ruleSet, cap, snapshot, NOW);
      assert.deepEqual(refusal, expected, label);
      if (refusal?.retryAt === undefined) continue;
      // At retryAt every timed limit hit has passed (nobody else used the server meanwhile); only
      // videos still in progress could refuse then...
      const atRetry = checkLimits(ruleSet, cap, rollOver(snapshot, refusal.retryAt), refusal.retryAt);
      const expectedAtRetry = refusal.hits.includes('concurrency') ? { limit: 'concurrency', retryAt: undefined, hits: ['concurrency'] } : null;
      assert.deepEqual(atRetry, expectedAtRetry, `${label}: at retryAt`);
      // ...and just before it a timed limit still refuses, so it is the earliest such time.
      const justBefore = checkLimits(ruleSet, cap, rollOver(snapshot, refusal.retryAt - 1), refusal.retryAt - 1);
      assert.ok(justBefore?.hits.some((hit) => hit !== 'concurrency'), `${label}: before retryAt`);
    }
  });

  test('an allowance and a cap resetting at the same time: the wider one is named', () => {
    // Sunday: the day and the week both end at Monday 00:00.
    const sunday = Date.UTC(2026, 10, 29, 12);
    const refusal = checkLimits(RULES, GLOBAL_CAP, snapshotAt(sunday, { user: { dayCount: 5, weekCount: 20 } }), sunday);
    assert.deepEqual(refusal, { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['daily', 'weekly'] });
    const withServer = checkLimits(RULES, GLOBAL_CAP, snapshotAt(sunday, { user: { dayCount: 5, weekCount: 20 }, guild: { dayCount: 50 } }), sunday);
    assert.deepEqual(withServer, { limit: 'server', retryAt: NEXT_MONDAY, hits: ['daily', 'weekly', 'server'] });
  });

  test('retryAt of a single limit hit is that limit’s own time', () => {
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { lastStartAt: NOW - SECOND } }), NOW), {
      limit: 'cooldown',
      retryAt: NOW + 59 * SECOND,
      hits: ['cooldown'],
    });
    assert.deepEqual(checkLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, { user: { weekCount: 20 } }), NOW), {
      limit: 'weekly',
      retryAt: NEXT_MONDAY,
      hits: ['weekly'],
    });
  });
});

describe('evaluateLimits', () => {
  test('granted extra videos cover the daily and weekly allowances, whichever limit is named', () => {
    // Daily and weekly both used up: the weekly limit is named, and one extra video covers both.
    const spent = snapshotAt(NOW, { user: { dayCount: 5, weekCount: 20, bonus: 1 } });
    assert.deepEqual(evaluateLimits(RULES, GLOBAL_CAP, spent, NOW, false), { refusal: null, usesBonus: true });
    // No extra videos left: the refusal stands.
    const none = snapshotAt(NOW, { user: { dayCount: 5, weekCount: 20, bonus: 0 } });
    assert.deepEqual(evaluateLimits(RULES, GLOBAL_CAP, none, NOW, false), {
      refusal: { limit: 'weekly', retryAt: NEXT_MONDAY, hits: ['daily', 'weekly'] },
      usesBonus: false,
    });
  });

  test('extra videos do not lift any other limit hit alongside the daily allowance', () => {
    const cases: Array<[string, SnapshotPatch, Refusal]> = [
      ['cooldown', { user: { dayCount: 5, bonus: 3, lastStartAt: NOW - SECOND } }, { limit: 'daily', retryAt: WEDNESDAY, hits: ['cooldown', 'daily'] }],
      ['concurrency', { user: { dayCount: 5, bonus: 3, running: ['a', 'b'] } }, { limit: 'daily', retryAt: WEDNESDAY, hits: ['concurrency', 'daily'] }],
      ['server', { user: { dayCount: 5, bonus: 3 }, guild: { dayCount: 50 } }, { limit: 'server', retryAt: WEDNESDAY, hits: ['daily', 'server'] }],
    ];
    for (const [label, patch, refusal] of cases) {
      assert.deepEqual(evaluateLimits(RULES, GLOBAL_CAP, snapshotAt(NOW, patch), NOW, false), { refusal, usesBonus: false }, label);
    }
  });
});

describe('isOpen', () => {
  test('a reservation is open exactly while its id is among the user’s running videos', () => {
    const fresh = emptySnapshot(NOW);
    assert.equal(isOpen(fresh, 'r1'), false);
    const one = reserveIn(fresh, 'r1', NOW);
    assert.equal(isOpen(one.snapshot, 'r1'), true);
    assert.equal(isOpen(one.snapshot, 'r2'), false);
    const two = reserveIn(one.snapshot, 'r2', NOW + SECOND);
    assert.equal(isOpen(two.snapshot, 'r1'), true);
    assert.equal(isOpen(two.snapshot, 'r2'), true);
    for (const outcome of SETTLEMENTS) {
      const settled = applySettlement(two.snapshot, one.reservation, outcome);
      assert.equal(isOpen(settled, 'r1'), false, outcome);
      assert.equal(isOpen(settled, 'r2'), true, outcome);
    }
  });

  test('depends on nothing but the running list: not on the counters or the periods', () => {
    assert.equal(isOpen(snapshotAt(NOW, { user: { running: ['x'] } }), 'x'), true);
    assert.equal(isOpen(snapshotAt(NOW, { user: { running: ['x'], dayCount: 0, weekCount: 0 }, global: { dayCount: 0 } }), 'x'), true);
    assert.equal(isOpen(snapshotAt(NOW, { user: { dayCount: 5, weekCount: 5 }, global: { dayCount: 5 } }), 'x'), false);
    assert.equal(isOpen(rollOver(snapshotAt(NOW, { user: { running: ['x'] } }), NOW + 30 * DAY), 'x'), true);
    assert.equal(isOpen(snapshotAt(NOW, { user: { running: ['xy'] } }), 'x'), false, 'whole ids only');
  });
});

describe('applyReservation', () => {
  test('counts the video everywhere and records it as open and running', () => {
    const before = deepFreeze(
      snapshotAt(NOW, {
        user: { dayCount: 1, weekCount: 3, lastStartAt: NOW - HOUR, running: ['r0'] },
        guild: { dayCount: 3, weekCount: 7 },
        global: { dayCount: 7 },
      }),
    );
    const { snapshot: after, reservation } = reserveIn(before, 'r1', NOW);
    assert.deepEqual(reservation, {
      id: 'r1',
      guildId: 'g1',
      userId: 'u1',
      day: '2026-11-24',
      week: '2026-W48',
      startedAt: NOW,
      previousLastStartAt: NOW - HOUR,
    });
    assert.deepEqual(after, {
      user: { day: '2026-11-24', dayCount: 2, week: '2026-W48', weekCount: 4, lastStartAt: NOW, running: ['r0', 'r1'] },
      guild: { day: '2026-11-24', week: '2026-W48', dayCount: 4, weekCount: 8 },
      global: { day: '2026-11-24', dayCount: 8 },
    });
    assert.equal(isOpen(after, 'r1'), true);
    assert.equal(isOpen(after, 'r0'), true);
    assert.equal(isOpen(before, 'r1'), false);
  });

  test('a user new to the server gets their first entry', () => {
    const { snapshot } = reserveIn(snapshotAt(NOW, { guild: { dayCount: 2, weekCount: 2 } }), 'r1', NOW, 'u9');
    assert.equal(snapshot.guild.dayCount, 3);
    assert.equal(snapshot.guild.weekCount, 3);
  });
});

describe('applySettlement', () => {
  /** Two videos by u1 (r1 an hour ago, then r2 now) next to another user's usage. */
  function twoReservations() {
    const base = snapshotAt(NOW, {
      guild: { dayCount: 3, weekCount: 6 },
      global: { dayCount: 3 },
    });
    const first = reserveIn(base, 'r1', NOW - HOUR);
    const second = reserveIn(first.snapshot, 'r2', NOW);
    return { r1: first.reservation, r2: second.reservation, snapshot: deepFreeze(second.snapshot) };
  }

  test('delivered keeps every count and the cooldown, and frees the running slot', () => {
    const { r1, r2, snapshot } = twoReservations();
    const after = applySettlement(snapshot, r1, 'delivered');
    assert.deepEqual(after, {
      user: { day: '2026-11-24', dayCount: 2, week: '2026-W48', weekCount: 2, lastStartAt: NOW, running: ['r2'] },
      guild: { day: '2026-11-24', week: '2026-W48', dayCount: 5, weekCount: 8 },
      global: { day: '2026-11-24', dayCount: 5 },
    });
    assert.equal(isOpen(after, r1.id), false);
    assert.equal(isOpen(after, r2.id), true);
    // A freed slot lets the user start again once the cooldown has passed.
    // (RULES allow 2 at once: r1 and r2 filled both slots; r2 still runs.)
    assert.equal(checkLimits(RULES, GLOBAL_CAP, snapshot, NOW + 60 * SECOND)?.limit, 'concurrency');
    assert.equal(checkLimits(RULES, GLOBAL_CAP, after, NOW + 60 * SECOND), null);
  });

  test('refunded takes the counts back and restores the previous start', () => {
    const { r1, r2, snapshot } = twoReservations();
    const after = applySettlement(snapshot, r2, 'refunded');
    assert.deepEqual(after, {
      user: { day: '2026-11-24', dayCount: 1, week: '2026-W48', weekCount: 1, lastStartAt: NOW - HOUR, running: ['r1'] },
      guild: { day: '2026-11-24', week: '2026-W48', dayCount: 4, weekCount: 7 },
      global: { day: '2026-11-24', dayCount: 4 },
    });
    assert.equal(isOpen(after, r1.id), true);
    assert.equal(isOpen(after, r2.id), false);
  });

  test('refunding the only video removes the user from the server’s counts and clears the cooldown', () => {
    const { snapshot, reservation } = reserveIn(snapshotAt(NOW, { guild: { dayCount: 1, weekCount: 1 } }), 'r1', NOW);
    const after = applySettlement(snapshot, reservation, 'refunded');
    assert.deepEqual(after.user, emptySnapshot(NOW).user);
    assert.equal(after.guild.dayCount, 1);
    assert.equal(after.guild.weekCount, 1);
    assert.deepEqual(after.global, { day: '2026-11-24', dayCount: 0 });
    assert.equal(checkLimits(RULES, GLOBAL_CAP, after, NOW + SECOND), null);
  });

  test('refunding an older video keeps the cooldown of the newer one', () => {
    const { r1, snapshot } = twoReservations();
    const after = applySettlement(snapshot, r1, 'refunded');
    assert.equal(after.user.lastStartAt, NOW);
    assert.equal(after.user.dayCount, 1);
    assert.deepEqual(after.user.running, ['r2']);
  });

  test('refunding both, newest first, restores the very first previous start', () => {
    const { r1, r2, snapshot } = twoReservations();
    const after = applySettlement(applySettlement(snapshot, r2, 'refunded'), r1, 'refunded');
    assert.equal(after.user.lastStartAt, null);
    assert.equal(after.user.dayCount, 0);
    assert.equal(after.guild.dayCount, 3);
    assert.equal(after.global.dayCount, 3);
  });

  test('a refund after a day roll-over leaves the new day’s counts alone but takes back the week’s', () => {
    const yesterday = reserveIn(emptySnapshot(NOW), 'r1', NOW);
    // Next day, same ISO week: the user starts another video, then the first one fails.
    const today = reserveIn(rollOver(yesterday.snapshot, WEDNESDAY + HOUR), 'r2', WEDNESDAY + HOUR);
    const after = applySettlement(rollOver(today.snapshot, WEDNESDAY + 2 * HOUR), yesterday.reservation, 'refunded');
    assert.deepEqual(after.user, {
      day: '2026-11-25',
      dayCount: 1,
      week: '2026-W48',
      weekCount: 1,
      lastStartAt: WEDNESDAY + HOUR,
      running: ['r2'],
    });
    assert.deepEqual(after.guild, { day: '2026-11-25', week: '2026-W48', dayCount: 1, weekCount: 1 });
    assert.deepEqual(after.global, { day: '2026-11-25', dayCount: 1 });
    assert.equal(isOpen(after, 'r1'), false);
    assert.equal(isOpen(after, 'r2'), true);
  });

  test('a refund after a week roll-over takes nothing back', () => {
    const lastWeek = reserveIn(emptySnapshot(NOW), 'r1', NOW);
    const thisWeek = reserveIn(rollOver(lastWeek.snapshot, NEXT_MONDAY), 'r2', NEXT_MONDAY);
    const after = applySettlement(thisWeek.snapshot, lastWeek.reservation, 'refunded');
    assert.equal(after.user.dayCount, 1);
    assert.equal(after.user.weekCount, 1);
    assert.equal(after.user.lastStartAt, NEXT_MONDAY);
    assert.equal(after.guild.dayCount, 1);
    assert.equal(after.guild.weekCount, 1);
    assert.equal(after.global.dayCount, 1);
    assert.deepEqual(after.user.running, ['r2']);
    assert.equal(isOpen(after, 'r1'), false);
  });

  test('a refund after a day roll-over with no new video restores the cooldown but leaves the empty day at zero', () => {
    const yesterday = reserveIn(snapshotAt(NOW, { user: { lastStartAt: NOW - DAY } }), 'r1', NOW);
    const after = applySettlement(rollOver(yesterday.snapshot, WEDNESDAY), yesterday.reservation, 'refunded');
    assert.equal(after.user.dayCount, 0);
    assert.equal(after.user.weekCount, 0);
    assert.equal(after.user.lastStartAt, NOW - DAY);
    assert.equal(after.guild.dayCount, 0);
    assert.equal(after.guild.weekCount, 0);
    assert.equal(after.global.dayCount, 0);
  });

  test('billed gives the user and the server their counts and the cooldown back, but the global count keeps it', () => {
    const { r1, r2, snapshot } = twoReservations();
    const after = applySettlement(snapshot, r2, 'billed');
    assert.deepEqual(after, {
      user: { day: '2026-11-24', dayCount: 1, week: '2026-W48', weekCount: 1, lastStartAt: NOW - HOUR, running: ['r1'] },
      guild: { day: '2026-11-24', week: '2026-W48', dayCount: 4, weekCount: 7 },
      global: { day: '2026-11-24', dayCount: 5 },
    });
    assert.equal(isOpen(after, r1.id), true);
    assert.equal(isOpen(after, r2.id), false);
  });

  test('each outcome against each counter: what is kept and what is given back', () => {
    const { r2, snapshot } = twoReservations();
    /** Per outcome, whether each record keeps the video counted (as a delivery does) or gives it back (as a refund does). */
    const keeps: Record<Settlement, Record<'user' | 'guild' | 'global', boolean>> = {
      delivered: { user: true, guild: true, global: true },
      refunded: { user: false, guild: false, global: false },
      billed: { user: false, guild: false, global: true },
    };
    const refunded = applySettlement(snapshot, r2, 'refunded');
    const delivered = applySettlement(snapshot, r2, 'delivered');
    for (const outcome of SETTLEMENTS) {
      const after = applySettlement(snapshot, r2, outcome);
      for (const part of ['user', 'guild', 'global'] as const) {
        assert.deepEqual(after[part], (keeps[outcome][part] ? delivered : refunded)[part], `${outcome}: ${part}`);
      }
      assert.deepEqual(after.user.running, ['r1'], `${outcome} frees the running slot`);
    }
  });

  test('billed at the global cap keeps the cap reached; a refund frees a call under it', () => {
    const { snapshot, reservation } = reserveIn(snapshotAt(NOW, { global: { dayCount: 4 } }), 'r1', NOW);
    const cap = 5;
    assert.equal(checkLimits(UNLIMITED, cap, snapshot, NOW)?.limit, 'global');
    assert.equal(checkLimits(UNLIMITED, cap, applySettlement(snapshot, reservation, 'billed'), NOW)?.limit, 'global');
    assert.equal(checkLimits(UNLIMITED, cap, applySettlement(snapshot, reservation, 'refunded'), NOW), null);
  });

  test('a granted extra video comes back on a refund or a billed failure, not on a delivery', () => {
    const base = snapshotAt(NOW, { user: { dayCount: 5, weekCount: 5, bonus: 1 } });
    const reservation: Reservation = { ...reserveIn(base, 'r1', NOW).reservation, usedBonus: true };
    const spent = applyReservation(base, reservation);
    assert.equal(spent.user.bonus, 0);
    for (const outcome of SETTLEMENTS) {
      assert.equal(applySettlement(spent, reservation, outcome).user.bonus, outcome === 'delivered' ? 0 : 1, outcome);
    }
  });

  test('billed after a day roll-over keeps the new day’s counts and every global count, and takes back the week’s', () => {
    const yesterday = reserveIn(emptySnapshot(NOW), 'r1', NOW);
    const today = reserveIn(rollOver(yesterday.snapshot, WEDNESDAY + HOUR), 'r2', WEDNESDAY + HOUR);
    const after = applySettlement(rollOver(today.snapshot, WEDNESDAY + 2 * HOUR), yesterday.reservation, 'billed');
    assert.equal(after.user.dayCount, 1);
    assert.equal(after.user.weekCount, 1);
    assert.deepEqual(after.guild, { day: '2026-11-25', week: '2026-W48', dayCount: 1, weekCount: 1 });
    assert.deepEqual(after.global, { day: '2026-11-25', dayCount: 1 });
  });

  test('settling twice is a no-op, whatever the outcomes', () => {
    const { r2, snapshot } = twoReservations();
    for (const first of SETTLEMENTS) {
      for (const second of SETTLEMENTS) {
        const once = applySettlement(snapshot, r2, first);
        const twice = applySettlement(once, r2, second);
        assert.equal(twice, once, `${first} then ${second}`);
      }
    }
  });

  test('an unknown id changes nothing', () => {
    const { r1, snapshot } = twoReservations();
    const unknown: Reservation = { ...r1, id: 'nope' };
    for (const outcome of SETTLEMENTS) assert.equal(applySettlement(snapshot, unknown, outcome), snapshot, outcome);
  });

  test('a reservation that is not open (a stray record, as a store from before the index may hold) changes nothing, even if it matches the counts', () => {
    // The record was written but the counters that make it open were not: nothing was counted.
    const before = deepFreeze(snapshotAt(NOW, { user: { dayCount: 1, weekCount: 1, lastStartAt: NOW - HOUR }, global: { dayCount: 1 } }));
    const { reservation: stray } = reserveIn(before, 'stray', NOW);
    assert.equal(isOpen(before, stray.id), false);
    for (const outcome of SETTLEMENTS) assert.equal(applySettlement(before, stray, outcome), before, outcome);
  });

  test('uses the reservation it is given for what to take back, not anything stored in the snapshot', () => {
    const { r2, snapshot } = twoReservations();
    // The same id counted on another day (as a record from the day before would say): only the week's count comes back.
    const after = applySettlement(snapshot, { ...r2, day: '2026-11-23', previousLastStartAt: NOW - 2 * HOUR }, 'refunded');
    assert.equal(after.user.dayCount, 2);
    assert.equal(after.user.weekCount, 1);
    assert.equal(after.user.lastStartAt, NOW - 2 * HOUR);
    assert.equal(after.guild.dayCount, 5);
    assert.equal(after.guild.weekCount, 7);
    assert.equal(after.global.dayCount, 5);
    assert.deepEqual(after.user.running, ['r1']);
  });

  test('does not mutate its input', () => {
    const { r1, r2, snapshot } = twoReservations(); // deep-frozen: a mutation would throw
    const copy = structuredClone(snapshot);
    for (const outcome of SETTLEMENTS) {
      applySettlement(snapshot, r1, outcome);
      applySettlement(snapshot, r2, outcome);
    }
    assert.deepEqual(snapshot, copy);
  });
});

describe('quotaView', () => {
  test('a fresh user has the whole allowance', () => {
    assert.deepEqual(quotaView(RULES, emptySnapshot(NOW), NOW), {
      bonus: 0,
      dailyLeft: 5,
      weeklyLeft: 20,
      dayResetsAt: WEDNESDAY,
      weekResetsAt: NEXT_MONDAY,
      cooldownUntil: null,
      running: 0,
      waiting: 0,
      maxConcurrent: 2,
      serverLeftToday: 50,
    });
  });

  test('after some use, with the cooldown running', () => {
    const snapshot = snapshotAt(NOW, {
      user: { dayCount: 2, weekCount: 9, lastStartAt: NOW - 15 * SECOND, running: ['r1'] },
      guild: { dayCount: 32 },
    });
    assert.deepEqual(quotaView(RULES, snapshot, NOW), {
      bonus: 0,
      dailyLeft: 3,
      weeklyLeft: 11,
      dayResetsAt: WEDNESDAY,
      weekResetsAt: NEXT_MONDAY,
      cooldownUntil: NOW + 45 * SECOND,
      running: 1,
      waiting: 0,
      maxConcurrent: 2,
      serverLeftToday: 18,
    });
  });

  test('the cooldown is shown only while it lasts', () => {
    const snapshot = snapshotAt(NOW, { user: { lastStartAt: NOW - 60 * SECOND + 1 } });
    assert.equal(quotaView(RULES, snapshot, NOW).cooldownUntil, NOW + 1);
    assert.equal(quotaView(RULES, snapshot, NOW + 1).cooldownUntil, null);
    assert.equal(quotaView(rules({ cooldownSeconds: 0 }), snapshotAt(NOW, { user: { lastStartAt: NOW } }), NOW).cooldownUntil, null);
  });

  test('unlimited limits are null; used-up or exceeded ones are 0, never negative', () => {
    const snapshot = snapshotAt(NOW, { user: { dayCount: 7, weekCount: 7 }, guild: { dayCount: 67 } });
    const limited = quotaView(rules({ dailyLimit: 5, weeklyLimit: 7, serverDailyCap: 50 }), snapshot, NOW);
    assert.equal(limited.dailyLeft, 0);
    assert.equal(limited.weeklyLeft, 0);
    assert.equal(limited.serverLeftToday, 0);
    const unlimited = quotaView(UNLIMITED, snapshot, NOW);
    assert.equal(unlimited.dailyLeft, null);
    assert.equal(unlimited.weeklyLeft, null);
    assert.equal(unlimited.serverLeftToday, null);
    assert.equal(unlimited.maxConcurrent, null);
  });

  test('reset times at exactly Monday midnight are the next day and the next Monday', () => {
    const view = quotaView(RULES, emptySnapshot(NEXT_MONDAY), NEXT_MONDAY);
    assert.equal(view.dayResetsAt, NEXT_MONDAY + DAY);
    assert.equal(view.weekResetsAt, NEXT_MONDAY + 7 * DAY);
  });
});
