import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Keyv from 'keyv';
import type { OperatorLimits } from '../../src/config.js';
import { limitLabel, renderQuota, renderRefusal, renderSettings, renderUsage } from '../../src/discord/usage-messages.js';
import { effectiveRules, GuildSettingsStore, LIMIT_FIELDS, type GuildSettings } from '../../src/usage/guild-settings.js';
import {
  checkLimits,
  emptySnapshot,
  quotaView,
  type LimitName,
  type LimitRules,
  type QuotaView,
  type Refusal,
  type UserUsage,
} from '../../src/usage/limits.js';
import type { GuildUsageReport } from '../../src/usage/usage-service.js';

/** Tuesday 2026-11-24 12:00 UTC. */
const NOW = Date.UTC(2026, 10, 24, 12);
const NOW_S = NOW / 1000;
const WEDNESDAY_S = Date.UTC(2026, 10, 25) / 1000;
const NEXT_MONDAY_S = Date.UTC(2026, 10, 30) / 1000;

const RULES: LimitRules = { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 50 };

/** What a server that never saved anything has, as the store gives it (so it has every field settings have). */
const NO_SETTINGS: GuildSettings = await new GuildSettingsStore(new Keyv()).get('never-saved');

/** Settings with these limits set and nothing else. */
function settingsWith(limits: GuildSettings['limits']): GuildSettings {
  return { ...structuredClone(NO_SETTINGS), limits };
}

/** A view with these fields, over a real one for the rest. */
function viewWith(fields: Partial<QuotaView>): QuotaView {
  return { ...quotaView(RULES, emptySnapshot(NOW), NOW), ...fields };
}

const SWITCHED_OFF = 'Making videos is switched off here for now. A moderator can change that with `/pika-admin limits`.';

describe('renderRefusal', () => {
  test('concurrency names the number allowed at once', () => {
    assert.equal(
      renderRefusal({ limit: 'concurrency', retryAt: undefined, hits: ['concurrency'] }, RULES, null, 'en-US'),
      'You already have 2 videos in progress, the most allowed at once here. You can start another as soon as one finishes.',
    );
    assert.equal(
      renderRefusal({ limit: 'concurrency', retryAt: undefined, hits: ['concurrency'] }, { ...RULES, maxConcurrent: 1 }, null, 'en-US'),
      'You already have 1 video in progress, the most allowed at once here. You can start another as soon as one finishes.',
    );
  });

  test('cooldown gives a relative timestamp, rounded up to the next whole second', () => {
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_000, hits: ['cooldown'] }, RULES, null, 'en-US'),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 30}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_001, hits: ['cooldown'] }, RULES, null, 'en-US'),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 31}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_999, hits: ['cooldown'] }, RULES, null, 'en-US'),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 31}:R>.`,
    );
  });

  test('daily', () => {
    assert.equal(
      renderRefusal({ limit: 'daily', retryAt: WEDNESDAY_S * 1000, hits: ['daily'] }, RULES, null, 'en-US'),
      `You have used all 5 videos of your daily allowance here. You can make more <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'daily', retryAt: WEDNESDAY_S * 1000, hits: ['daily'] }, { ...RULES, dailyLimit: 1 }, null, 'en-US'),
      `You have used all 1 video of your daily allowance here. You can make more <t:${WEDNESDAY_S}:R>.`,
    );
  });

  test('several limits hit: the one lasting longest is told about, with the time every timed one has passed', () => {
    const refuse = (user: Partial<UserUsage>) => {
      const refusal = checkLimits(RULES, null, { ...emptySnapshot(NOW), user: { ...emptySnapshot(NOW).user, ...user } }, NOW);
      assert.ok(refusal);
      return renderRefusal(refusal, RULES, null, 'en-US');
    };
    // In cooldown and the day used up: the daily allowance and midnight, not the cooldown.
    assert.equal(
      refuse({ lastStartAt: NOW - 1000, dayCount: 5 }),
      `You have used all 5 videos of your daily allowance here. You can make more <t:${WEDNESDAY_S}:R>.`,
    );
    // Daily and weekly used up: the weekly allowance and next Monday.
    assert.equal(
      refuse({ dayCount: 5, weekCount: 20 }),
      `You have used all 20 videos of your weekly allowance here. You can make more <t:${NEXT_MONDAY_S}:R>.`,
    );
    // A cooldown ending after midnight and the day used up: the daily allowance, at the cooldown's end.
    const longCooldown = { ...RULES, cooldownSeconds: 13 * 3600 };
    const late = checkLimits(longCooldown, null, { ...emptySnapshot(NOW), user: { ...emptySnapshot(NOW).user, lastStartAt: NOW, dayCount: 5 } }, NOW);
    assert.ok(late);
    assert.equal(
      renderRefusal(late, longCooldown, null, 'en-US'),
      `You have used all 5 videos of your daily allowance here. You can make more <t:${NOW_S + 13 * 3600}:R>.`,
    );
    // Videos in progress and the day used up: the daily allowance and midnight.
    assert.equal(
      refuse({ running: ['a', 'b'], dayCount: 5 }),
      `You have used all 5 videos of your daily allowance here. You can make more <t:${WEDNESDAY_S}:R>.`,
    );
    // Videos in progress and a cooldown: the videos in progress, not a cooldown to wait "later" for.
    assert.equal(
      refuse({ running: ['a', 'b'], lastStartAt: NOW - 1000 }),
      'You already have 2 videos in progress, the most allowed at once here. You can start another as soon as one finishes.',
    );
  });

  test('the text follows the limit named, not the first hit, and the time given', () => {
    assert.equal(
      renderRefusal({ limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['cooldown', 'daily', 'weekly'] }, RULES, null, 'en-US'),
      `You have used all 20 videos of your weekly allowance here. You can make more <t:${NEXT_MONDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: WEDNESDAY_S * 1000, hits: ['daily', 'server'] }, RULES, null, 'en-US'),
      `This server has reached its limit of 50 videos for today. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
  });

  test('weekly', () => {
    assert.equal(
      renderRefusal({ limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['weekly'] }, RULES, null, 'en-US'),
      `You have used all 20 videos of your weekly allowance here. You can make more <t:${NEXT_MONDAY_S}:R>.`,
    );
  });

  test('server', () => {
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: WEDNESDAY_S * 1000, hits: ['server'] }, RULES, null, 'en-US'),
      `This server has reached its limit of 50 videos for today. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: WEDNESDAY_S * 1000, hits: ['server'] }, { ...RULES, serverDailyCap: 1 }, null, 'en-US'),
      `This server has reached its limit of 1 video for today. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
  });

  test('global uses the operator’s cap, not the server’s rules', () => {
    assert.equal(
      renderRefusal({ limit: 'global', retryAt: WEDNESDAY_S * 1000, hits: ['global'] }, RULES, 1000, 'en-US'),
      `The bot has reached its daily limit of 1000 videos across all servers. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'global', retryAt: WEDNESDAY_S * 1000 + 1, hits: ['global'] }, RULES, 1, 'en-US'),
      `The bot has reached its daily limit of 1 video across all servers. Videos can be made again <t:${WEDNESDAY_S + 1}:R>.`,
    );
  });

  test('no retry time reads "later"', () => {
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: undefined, hits: ['cooldown'] }, RULES, null, 'en-US'),
      'Please wait a moment between videos: you can start your next one later.',
    );
    assert.equal(
      renderRefusal({ limit: 'daily', retryAt: undefined, hits: ['daily'] }, RULES, null, 'en-US'),
      'You have used all 5 videos of your daily allowance here. You can make more later.',
    );
    assert.equal(
      renderRefusal({ limit: 'weekly', retryAt: undefined, hits: ['weekly'] }, RULES, null, 'en-US'),
      'You have used all 20 videos of your weekly allowance here. You can make more later.',
    );
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: undefined, hits: ['server'] }, RULES, null, 'en-US'),
      'This server has reached its limit of 50 videos for today. Videos can be made again later.',
    );
    assert.equal(
      renderRefusal({ limit: 'global', retryAt: undefined, hits: ['global'] }, RULES, 3, 'en-US'),
      'The bot has reached its daily limit of 3 videos across all servers. Videos can be made again later.',
    );
    for (const limit of ['concurrency', 'cooldown', 'daily', 'weekly', 'server', 'global'] as const) {
      const text = renderRefusal({ limit, retryAt: undefined, hits: [limit] }, RULES, 3, 'en-US');
      assert.doesNotMatch(text, /<t:|undefined|NaN| \./, limit);
    }
  });

  test('a limit of 0 says making videos is switched off, with no time to wait for', () => {
    const cases: Array<[LimitName, Partial<LimitRules>, number | null, number | undefined]> = [
      ['concurrency', { maxConcurrent: 0 }, null, undefined],
      ['daily', { dailyLimit: 0 }, null, WEDNESDAY_S * 1000],
      ['weekly', { weeklyLimit: 0 }, null, NEXT_MONDAY_S * 1000],
      ['server', { serverDailyCap: 0 }, null, WEDNESDAY_S * 1000],
      ['global', {}, 0, WEDNESDAY_S * 1000],
    ];
    for (const [limit, zero, globalDailyCap, retryAt] of cases) {
      assert.equal(renderRefusal({ limit, retryAt, hits: [limit] }, { ...RULES, ...zero }, globalDailyCap, 'en-US'), SWITCHED_OFF, limit);
      // As checkLimits refuses a fresh user under those rules.
      const refusal = checkLimits({ ...RULES, ...zero }, globalDailyCap, emptySnapshot(NOW), NOW);
      assert.deepEqual(refusal, { limit, retryAt, hits: [limit] });
      assert.equal(renderRefusal(refusal, { ...RULES, ...zero }, globalDailyCap, 'en-US'), SWITCHED_OFF, `${limit} from checkLimits`);
    }
  });

  test('only a limit hit being 0 switches off: 0 in a limit not hit, or a cooldown of 0, keeps the usual wording', () => {
    assert.equal(
      renderRefusal({ limit: 'daily', retryAt: WEDNESDAY_S * 1000, hits: ['daily'] }, { ...RULES, maxConcurrent: 0 }, null, 'en-US'),
      `You have used all 5 videos of your daily allowance here. You can make more <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'global', retryAt: WEDNESDAY_S * 1000, hits: ['global'] }, { ...RULES, dailyLimit: 0, serverDailyCap: 0 }, 10, 'en-US'),
      `The bot has reached its daily limit of 10 videos across all servers. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: WEDNESDAY_S * 1000, hits: ['server'] }, RULES, 0, 'en-US'),
      `This server has reached its limit of 50 videos for today. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_000, hits: ['cooldown'] }, { ...RULES, cooldownSeconds: 0 }, 0, 'en-US'),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 30}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: WEDNESDAY_S * 1000, hits: ['daily', 'server'] }, { ...RULES, weeklyLimit: 0 }, 0, 'en-US'),
      `This server has reached its limit of 50 videos for today. Videos can be made again <t:${WEDNESDAY_S}:R>.`,
    );
    // null is unlimited, not 0.
    assert.notEqual(renderRefusal({ limit: 'global', retryAt: WEDNESDAY_S * 1000, hits: ['global'] }, RULES, null, 'en-US'), SWITCHED_OFF);
    assert.notEqual(
      renderRefusal({ limit: 'weekly', retryAt: undefined, hits: ['concurrency', 'daily', 'weekly', 'server', 'global'] }, { ...RULES, maxConcurrent: null, dailyLimit: null, serverDailyCap: null }, null, 'en-US'),
      SWITCHED_OFF,
    );
  });

  test('any limit hit being 0 switches off, whichever limit is named', () => {
    const cases: Array<[string, Refusal, Partial<LimitRules>, number | null]> = [
      ['daily 0, weekly named', { limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['daily', 'weekly'] }, { dailyLimit: 0 }, null],
      ['server 0, global named', { limit: 'global', retryAt: WEDNESDAY_S * 1000, hits: ['server', 'global'] }, { serverDailyCap: 0 }, 10],
      ['global 0, weekly named', { limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['weekly', 'global'] }, {}, 0],
      ['concurrency 0, daily named', { limit: 'daily', retryAt: WEDNESDAY_S * 1000, hits: ['concurrency', 'daily'] }, { maxConcurrent: 0 }, null],
      ['the named limit 0 among others', { limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['concurrency', 'cooldown', 'weekly'] }, { weeklyLimit: 0 }, null],
    ];
    for (const [label, refusal, zero, globalDailyCap] of cases) {
      assert.equal(renderRefusal(refusal, { ...RULES, ...zero }, globalDailyCap, 'en-US'), SWITCHED_OFF, label);
    }
  });

  test('a limit of 0 that is hit, named or not, says switched off', () => {
    const fresh = emptySnapshot(NOW);
    const withUser = (user: Partial<UserUsage>) => ({ ...fresh, user: { ...fresh.user, ...user } });
    // A video still running when a moderator sets the daily limit to 0: the daily limit is named.
    const dailyOff = { ...RULES, maxConcurrent: 1, dailyLimit: 0 };
    const running = checkLimits(dailyOff, null, withUser({ running: ['r1'] }), NOW);
    assert.deepEqual(running, { limit: 'daily', retryAt: WEDNESDAY_S * 1000, hits: ['concurrency', 'daily'] });
    assert.equal(renderRefusal(running, dailyOff, null, 'en-US'), SWITCHED_OFF);
    // Videos in progress set to 0 on a day the allowance is used up: the daily limit (5) is named.
    const concurrencyOff = { ...RULES, maxConcurrent: 0 };
    const spentDay = checkLimits(concurrencyOff, null, withUser({ dayCount: 5 }), NOW);
    assert.deepEqual(spentDay, { limit: 'daily', retryAt: WEDNESDAY_S * 1000, hits: ['concurrency', 'daily'] });
    assert.equal(renderRefusal(spentDay, concurrencyOff, null, 'en-US'), SWITCHED_OFF);
    // The daily limit set to 0 for a user whose week is used up: the weekly limit (20) is named.
    const spentWeek = checkLimits(dailyOff, null, withUser({ weekCount: 20 }), NOW);
    assert.deepEqual(spentWeek, { limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['daily', 'weekly'] });
    assert.equal(renderRefusal(spentWeek, dailyOff, null, 'en-US'), SWITCHED_OFF);
    // The operator's cap set to 0, the user's week used up: the weekly limit is named.
    const spentWeekGlobalOff = checkLimits(RULES, 0, withUser({ weekCount: 20 }), NOW);
    assert.deepEqual(spentWeekGlobalOff, { limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000, hits: ['weekly', 'global'] });
    assert.equal(renderRefusal(spentWeekGlobalOff, RULES, 0, 'en-US'), SWITCHED_OFF);
  });
});

describe('renderQuota', () => {
  const limitedView: QuotaView = viewWith({
    dailyLeft: 3,
    weeklyLeft: 1,
    dayResetsAt: WEDNESDAY_S * 1000,
    weekResetsAt: NEXT_MONDAY_S * 1000,
    cooldownUntil: NOW + 44_500,
    running: 1,
    waiting: 0,
    maxConcurrent: 2,
    serverLeftToday: 40,
  });

  test('an owner is told no limits apply, whatever the view', () => {
    const expected = '**Your Pika allowance**\nYou are one of the bot’s owners: no limits apply to you.';
    assert.equal(renderQuota(limitedView, true, false, 'en-US'), expected);
    assert.equal(renderQuota({ ...limitedView, dailyLeft: 0 }, true, false, 'en-US'), expected);
  });

  test('limited, with the cooldown active and a server cap', () => {
    assert.equal(
      renderQuota(limitedView, false, false, 'en-US'),
      [
        '**Your Pika allowance in this server**',
        `Today: 3 videos left · resets <t:${WEDNESDAY_S}:R>`,
        `This week: 1 video left · resets <t:${NEXT_MONDAY_S}:R>`,
        `Cooldown: next video <t:${NOW_S + 45}:R>`,
        'In progress: 1 of at most 2',
        `Server today: 40 videos left · resets <t:${WEDNESDAY_S}:R>`,
      ].join('\n'),
    );
  });

  test('used up shows 0 videos left', () => {
    const text = renderQuota({ ...limitedView, dailyLeft: 0, serverLeftToday: 0, cooldownUntil: null }, false, false, 'en-US');
    assert.match(text, /^Today: 0 videos left · resets <t:\d+:R>$/m);
    assert.match(text, /^Server today: 0 videos left · resets <t:\d+:R>$/m);
    assert.match(text, /^Cooldown: ready now$/m);
  });

  test('unlimited: no counts, no reset times, no server line', () => {
    const view: QuotaView = viewWith({
      dailyLeft: null,
      weeklyLeft: null,
      dayResetsAt: WEDNESDAY_S * 1000,
      weekResetsAt: NEXT_MONDAY_S * 1000,
      cooldownUntil: null,
      running: 0,
      waiting: 0,
      maxConcurrent: null,
      serverLeftToday: null,
    });
    assert.equal(
      renderQuota(view, false, false, 'en-US'),
      ['**Your Pika allowance in this server**', 'Today: unlimited', 'This week: unlimited', 'Cooldown: ready now', 'In progress: 0'].join('\n'),
    );
  });

  test('from a real quotaView of a fresh user', () => {
    const view = quotaView({ ...RULES, serverDailyCap: null }, emptySnapshot(NOW), NOW);
    assert.equal(
      renderQuota(view, false, false, 'en-US'),
      [
        '**Your Pika allowance in this server**',
        `Today: 5 videos left · resets <t:${WEDNESDAY_S}:R>`,
        `This week: 20 videos left · resets <t:${NEXT_MONDAY_S}:R>`,
        'Cooldown: ready now',
        'In progress: 0 of at most 2',
      ].join('\n'),
    );
  });
});

describe('renderSettings', () => {
  const operator: OperatorLimits = {
    ownerIds: new Set(),
    defaults: { dailyLimit: 5, weeklyLimit: null, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: null },
    globalDailyCap: null,
    allowDms: false, maxQueuedPerUser: 0, upstreamConcurrency: null, userInstall: { dailyLimit: 3, weeklyLimit: 10 },
  };
  /** What follows the limits for a server with no moderation settings. */
  const NO_MODERATION_LINES = [
    '__Roles__',
    'no role rules',
    'Required role: none (everyone may use the bot)',
    '__Blocked users__',
    'nobody',
    '__Banned words__ (0; see `/pika-admin words list`)',
    '__Channels__: every channel',
    '__Audit log__: off',
  ];
  const render = (settings: GuildSettings, globalDailyCap: number | null = null) =>
    renderSettings(settings, effectiveRules(settings, operator), globalDailyCap, 'en-US');

  test('a server that set nothing: every field is the default', () => {
    assert.equal(
      render(settingsWith({})),
      [
        '**Pika settings for this server**',
        '__Limits__',
        'Videos per user per day: 5 (default)',
        'Videos per user per week: unlimited (default)',
        'Cooldown between a user’s videos: 60 s (default)',
        'Videos in progress per user: 2 (default)',
        'Videos per day for the whole server: unlimited (default)',
        'All servers together (set by the operator): no daily cap',
        ...NO_MODERATION_LINES,
      ].join('\n'),
    );
  });

  test('(default) marks only the fields the server did not set, even when a set value equals the default', () => {
    assert.equal(
      render(settingsWith({ dailyLimit: 5, weeklyLimit: 0, cooldownSeconds: 0, serverDailyCap: 300 }), 10_000),
      [
        '**Pika settings for this server**',
        '__Limits__',
        'Videos per user per day: 5',
        'Videos per user per week: 0',
        'Cooldown between a user’s videos: none',
        'Videos in progress per user: 2 (default)',
        'Videos per day for the whole server: 300',
        'All servers together (set by the operator): 10000 videos per day',
        ...NO_MODERATION_LINES,
      ].join('\n'),
    );
  });

  test('a server that set a field to unlimited', () => {
    const text = render(settingsWith({ dailyLimit: null, maxConcurrent: null, cooldownSeconds: 1 }), 1);
    assert.match(text, /^Videos per user per day: unlimited$/m);
    assert.match(text, /^Videos in progress per user: unlimited$/m);
    assert.match(text, /^Cooldown between a user’s videos: 1 s$/m);
    assert.match(text, /^All servers together \(set by the operator\): 1 video per day$/m);
  });

  test('lists every limit field once, in order, with its label', () => {
    const lines = render(settingsWith({})).split('\n').slice(2, 2 + LIMIT_FIELDS.length);
    assert.deepEqual(
      lines.map((line) => line.slice(0, line.indexOf(':'))),
      LIMIT_FIELDS.map((field) => limitLabel(field, 'en-US')),
    );
  });
});

describe('renderUsage', () => {
  const A = '111111111111111111';
  const B = '222222222222222222';
  const C = '333333333333333333';
  const D = '444444444444444444';

  test('nobody yet', () => {
    const usage: GuildUsageReport = { day: '2026-11-24', week: '2026-W48', dayCount: 0, weekCount: 0, dayByUser: {}, weekByUser: {} };
    assert.equal(
      renderUsage(usage, 'en-US'),
      [
        '**Pika usage in this server**',
        'Today (UTC): 0 videos · This week: 0 videos',
        '__Top users today__',
        'nobody yet',
        '__Top users this week__',
        'nobody yet',
      ].join('\n'),
    );
  });

  test('ranks by count, then by id, with totals', () => {
    const usage: GuildUsageReport = {
      day: '2026-11-24',
      week: '2026-W48',
      dayCount: 10,
      weekCount: 24,
      dayByUser: { [D]: 1, [B]: 2, [C]: 5, [A]: 2 },
      weekByUser: { [A]: 4, [D]: 9, [B]: 4, [C]: 7 },
    };
    assert.equal(
      renderUsage(usage, 'en-US'),
      [
        '**Pika usage in this server**',
        'Today (UTC): 10 videos · This week: 24 videos',
        '__Top users today__',
        `1. <@${C}>: 5`,
        `2. <@${A}>: 2`,
        `3. <@${B}>: 2`,
        `4. <@${D}>: 1`,
        '__Top users this week__',
        `1. <@${D}>: 9`,
        `2. <@${C}>: 7`,
        `3. <@${A}>: 4`,
        `4. <@${B}>: 4`,
      ].join('\n'),
    );
  });

  test('singular "1 video" in the totals; nobody today but someone this week', () => {
    const usage: GuildUsageReport = { day: '2026-11-25', week: '2026-W48', dayCount: 0, weekCount: 1, dayByUser: {}, weekByUser: { [A]: 1 } };
    assert.equal(
      renderUsage(usage, 'en-US'),
      [
        '**Pika usage in this server**',
        'Today (UTC): 0 videos · This week: 1 video',
        '__Top users today__',
        'nobody yet',
        '__Top users this week__',
        `1. <@${A}>: 1`,
      ].join('\n'),
    );
  });

  test('shows at most `top` users, and the server’s totals', () => {
    const dayByUser = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`1000000000000000${String(i).padStart(2, '0')}`, i + 1]));
    const usage: GuildUsageReport = { day: '2026-11-24', week: '2026-W48', dayCount: 120, weekCount: 120, dayByUser, weekByUser: dayByUser };
    const lines = renderUsage(usage, 'en-US').split('\n');
    assert.equal(lines[1], 'Today (UTC): 120 videos · This week: 120 videos');
    const today = lines.slice(3, lines.indexOf('__Top users this week__'));
    assert.equal(today.length, 10);
    assert.equal(today[0], '1. <@100000000000000014>: 15');
    assert.equal(today[9], '10. <@100000000000000005>: 6');

    const three = renderUsage(usage, 'en-US', 3).split('\n');
    assert.deepEqual(three.slice(3, 6), ['1. <@100000000000000014>: 15', '2. <@100000000000000013>: 14', '3. <@100000000000000012>: 13']);
    assert.equal(three[6], '__Top users this week__');
  });
});
