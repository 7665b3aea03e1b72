import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OperatorLimits } from '../../src/config.js';
import { LIMIT_LABELS, renderQuota, renderRefusal, renderSettings, renderUsage } from '../../src/discord/usage-messages.js';
import { effectiveRules, LIMIT_FIELDS, type GuildSettings } from '../../src/usage/guild-settings.js';
import { emptySnapshot, quotaView, type GuildUsage, type LimitRules, type QuotaView } from '../../src/usage/limits.js';

/** Tuesday 2026-11-24 12:00 UTC. */
const NOW = Date.UTC(2026, 10, 24, 12);
const NOW_S = NOW / 1000;
const WEDNESDAY_S = Date.UTC(2026, 10, 25) / 1000;
const NEXT_MONDAY_S = Date.UTC(2026, 10, 30) / 1000;

const RULES: LimitRules = { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 60, maxConcurrent: 2, serverDailyCap: 50 };

describe('renderRefusal', () => {
  test('concurrency names the number allowed at once', () => {
    assert.equal(
      renderRefusal({ limit: 'concurrency', retryAt: undefined }, RULES, null),
      'You already have 2 videos in progress, the most allowed at once here. You can start another as soon as one finishes.',
    );
    assert.equal(
      renderRefusal({ limit: 'concurrency', retryAt: undefined }, { ...RULES, maxConcurrent: 1 }, null),
      'You already have 1 video in progress, the most allowed at once here. You can start another as soon as one finishes.',
    );
  });

  test('cooldown gives a relative timestamp, rounded up to the next whole second', () => {
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_000 }, RULES, null),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 30}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_001 }, RULES, null),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 31}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'cooldown', retryAt: NOW + 30_999 }, RULES, null),
      `Please wait a moment between videos: you can start your next one <t:${NOW_S + 31}:R>.`,
    );
  });

  test('daily', () => {
    assert.equal(
      renderRefusal({ limit: 'daily', retryAt: WEDNESDAY_S * 1000 }, RULES, null),
      `You have used all 5 videos of your daily allowance here. It resets <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'daily', retryAt: WEDNESDAY_S * 1000 }, { ...RULES, dailyLimit: 1 }, null),
      `You have used all 1 video of your daily allowance here. It resets <t:${WEDNESDAY_S}:R>.`,
    );
  });

  test('weekly', () => {
    assert.equal(
      renderRefusal({ limit: 'weekly', retryAt: NEXT_MONDAY_S * 1000 }, RULES, null),
      `You have used all 20 videos of your weekly allowance here. It resets <t:${NEXT_MONDAY_S}:R>.`,
    );
  });

  test('server', () => {
    assert.equal(
      renderRefusal({ limit: 'server', retryAt: WEDNESDAY_S * 1000 }, RULES, null),
      `This server has reached its limit of 50 videos for today. It resets <t:${WEDNESDAY_S}:R>.`,
    );
  });

  test('global uses the operator’s cap, not the server’s rules', () => {
    assert.equal(
      renderRefusal({ limit: 'global', retryAt: WEDNESDAY_S * 1000 }, RULES, 1000),
      `The bot has reached its daily limit of 1000 videos across all servers. It resets <t:${WEDNESDAY_S}:R>.`,
    );
    assert.equal(
      renderRefusal({ limit: 'global', retryAt: WEDNESDAY_S * 1000 + 1 }, RULES, 1),
      `The bot has reached its daily limit of 1 video across all servers. It resets <t:${WEDNESDAY_S + 1}:R>.`,
    );
  });
});

describe('renderQuota', () => {
  const limitedView: QuotaView = {
    dailyLeft: 3,
    weeklyLeft: 1,
    dayResetsAt: WEDNESDAY_S * 1000,
    weekResetsAt: NEXT_MONDAY_S * 1000,
    cooldownUntil: NOW + 44_500,
    running: 1,
    maxConcurrent: 2,
    serverLeftToday: 40,
  };

  test('an owner is told no limits apply, whatever the view', () => {
    const expected = '**Your Pika allowance**\nYou are one of the bot’s owners: no limits apply to you.';
    assert.equal(renderQuota(limitedView, true), expected);
    assert.equal(renderQuota({ ...limitedView, dailyLeft: 0 }, true), expected);
  });

  test('limited, with the cooldown active and a server cap', () => {
    assert.equal(
      renderQuota(limitedView, false),
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
    const text = renderQuota({ ...limitedView, dailyLeft: 0, serverLeftToday: 0, cooldownUntil: null }, false);
    assert.match(text, /^Today: 0 videos left · resets <t:\d+:R>$/m);
    assert.match(text, /^Server today: 0 videos left · resets <t:\d+:R>$/m);
    assert.match(text, /^Cooldown: ready now$/m);
  });

  test('unlimited: no counts, no reset times, no server line', () => {
    const view: QuotaView = {
      dailyLeft: null,
      weeklyLeft: null,
      dayResetsAt: WEDNESDAY_S * 1000,
      weekResetsAt: NEXT_MONDAY_S * 1000,
      cooldownUntil: null,
      running: 0,
      maxConcurrent: null,
      serverLeftToday: null,
    };
    assert.equal(
      renderQuota(view, false),
      ['**Your Pika allowance in this server**', 'Today: unlimited', 'This week: unlimited', 'Cooldown: ready now', 'In progress: 0'].join('\n'),
    );
  });

  test('from a real quotaView of a fresh user', () => {
    const view = quotaView({ ...RULES, serverDailyCap: null }, emptySnapshot(NOW), NOW);
    assert.equal(
      renderQuota(view, false),
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
    allowDms: false,
  };
  const render = (settings: GuildSettings, globalDailyCap: number | null = null) =>
    renderSettings(settings, effectiveRules(settings, operator), globalDailyCap);

  test('a server that set nothing: every field is the default', () => {
    assert.equal(
      render({ limits: {} }),
      [
        '**Pika settings for this server**',
        '__Limits__',
        'Videos per user per day: 5 (default)',
        'Videos per user per week: unlimited (default)',
        'Cooldown between a user’s videos: 60 s (default)',
        'Videos in progress per user: 2 (default)',
        'Videos per day for the whole server: unlimited (default)',
        'All servers together (set by the operator): no daily cap',
      ].join('\n'),
    );
  });

  test('(default) marks only the fields the server did not set, even when a set value equals the default', () => {
    assert.equal(
      render({ limits: { dailyLimit: 5, weeklyLimit: 0, cooldownSeconds: 0, serverDailyCap: 300 } }, 10_000),
      [
        '**Pika settings for this server**',
        '__Limits__',
        'Videos per user per day: 5',
        'Videos per user per week: 0',
        'Cooldown between a user’s videos: none',
        'Videos in progress per user: 2 (default)',
        'Videos per day for the whole server: 300',
        'All servers together (set by the operator): 10000 videos per day',
      ].join('\n'),
    );
  });

  test('a server that set a field to unlimited', () => {
    const text = render({ limits: { dailyLimit: null, maxConcurrent: null, cooldownSeconds: 1 } }, 1);
    assert.match(text, /^Videos per user per day: unlimited$/m);
    assert.match(text, /^Videos in progress per user: unlimited$/m);
    assert.match(text, /^Cooldown between a user’s videos: 1 s$/m);
    assert.match(text, /^All servers together \(set by the operator\): 1 video per day$/m);
  });

  test('lists every limit field once, in order, with its label', () => {
    const lines = render({ limits: {} }).split('\n').slice(2, 2 + LIMIT_FIELDS.length);
    assert.deepEqual(
      lines.map((line) => line.slice(0, line.indexOf(':'))),
      LIMIT_FIELDS.map((field) => LIMIT_LABELS[field]),
    );
  });
});

describe('renderUsage', () => {
  const A = '111111111111111111';
  const B = '222222222222222222';
  const C = '333333333333333333';
  const D = '444444444444444444';

  test('nobody yet', () => {
    const usage: GuildUsage = { day: '2026-11-24', week: '2026-W48', dayByUser: {}, weekByUser: {} };
    assert.equal(
      renderUsage(usage),
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
    const usage: GuildUsage = {
      day: '2026-11-24',
      week: '2026-W48',
      dayByUser: { [D]: 1, [B]: 2, [C]: 5, [A]: 2 },
      weekByUser: { [A]: 4, [D]: 9, [B]: 4, [C]: 7 },
    };
    assert.equal(
      renderUsage(usage),
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
    const usage: GuildUsage = { day: '2026-11-25', week: '2026-W48', dayByUser: {}, weekByUser: { [A]: 1 } };
    assert.equal(
      renderUsage(usage),
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

  test('shows at most `top` users but counts everyone in the totals', () => {
    const dayByUser = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`1000000000000000${String(i).padStart(2, '0')}`, i + 1]));
    const usage: GuildUsage = { day: '2026-11-24', week: '2026-W48', dayByUser, weekByUser: dayByUser };
    const lines = renderUsage(usage).split('\n');
    assert.equal(lines[1], 'Today (UTC): 120 videos · This week: 120 videos');
    const today = lines.slice(3, lines.indexOf('__Top users this week__'));
    assert.equal(today.length, 10);
    assert.equal(today[0], '1. <@100000000000000014>: 15');
    assert.equal(today[9], '10. <@100000000000000005>: 6');

    const three = renderUsage(usage, 3).split('\n');
    assert.deepEqual(three.slice(3, 6), ['1. <@100000000000000014>: 15', '2. <@100000000000000013>: 14', '3. <@100000000000000012>: 13']);
    assert.equal(three[6], '__Top users this week__');
  });
});
