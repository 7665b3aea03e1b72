import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { emptyModeration } from '../../src/moderation/policy.js';
import {
  allowChannel,
  allowEveryChannel,
  allowWord,
  banWord,
  blockUser,
  clearRole,
  disallowChannel,
  exemptRole,
  MAX_BANNED_WORDS,
  requireRole,
  roleAllowance,
  setAuditChannel,
  setLimits,
  unblockUser,
} from '../../src/moderation/settings-edits.js';
import type { GuildSettings } from '../../src/usage/guild-settings.js';

const fresh = (): GuildSettings => ({ limits: {}, moderation: emptyModeration() });
const refuses = (edit: (s: GuildSettings) => string, settings: GuildSettings, message: RegExp) =>
  assert.throws(() => edit(settings), (error: unknown) => error instanceof UserError && message.test(error.message));

describe('setLimits', () => {
  test('sets the given limits only, null meaning unlimited, and says what changed', () => {
    const settings = fresh();
    const said = setLimits(false, { dailyLimit: 3, serverDailyCap: null })(settings);
    assert.deepEqual(settings.limits, { dailyLimit: 3, serverDailyCap: null });
    assert.equal(said, 'videos per user per day set to 3; videos per day for the whole server set to unlimited');
  });

  test('reset clears every limit before the given ones apply', () => {
    const settings = fresh();
    settings.limits = { dailyLimit: 1, weeklyLimit: 2 };
    assert.match(setLimits(true, { cooldownSeconds: 30 })(settings), /^every limit reset to the bot’s defaults; cooldown/);
    assert.deepEqual(settings.limits, { cooldownSeconds: 30 });
  });

  test('refuses nonsense and nothing at all', () => {
    refuses(setLimits(false, {}), fresh(), /Nothing to change/);
    refuses(setLimits(false, { maxConcurrent: 0 }), fresh(), /at least 1/);
    refuses(setLimits(false, { dailyLimit: -5 }), fresh(), /cannot be -5/);
    refuses(setLimits(false, { cooldownSeconds: null }), fresh(), /cannot be unlimited/);
  });
});

describe('role edits', () => {
  test('allowance keeps what is not given, and lists what is', () => {
    const settings = fresh();
    assert.equal(roleAllowance('7', 3, undefined)(settings), 'gave <@&7> an allowance of 3 per day');
    assert.equal(roleAllowance('7', undefined, null)(settings), 'gave <@&7> an allowance of unlimited per week');
    assert.deepEqual(settings.moderation.roles['7'], { dailyLimit: 3, weeklyLimit: null });
    refuses(roleAllowance('7', undefined, undefined), settings, /daily.*weekly/);
  });

  test('exempt on and off; a role left without rules disappears', () => {
    const settings = fresh();
    exemptRole('8', true)(settings);
    assert.deepEqual(settings.moderation.roles['8'], { exempt: true });
    assert.equal(exemptRole('8', false)(settings), 'stopped exempting <@&8>');
    assert.equal('8' in settings.moderation.roles, false);
    roleAllowance('8', 2, undefined)(settings);
    exemptRole('8', true)(settings);
    exemptRole('8', false)(settings);
    assert.deepEqual(settings.moderation.roles['8'], { dailyLimit: 2 });
  });

  test('clear and require', () => {
    const settings = fresh();
    roleAllowance('9', 1, 1)(settings);
    clearRole('9')(settings);
    assert.deepEqual(settings.moderation.roles, {});
    assert.equal(requireRole('9')(settings), 'made <@&9> required to use the bot');
    assert.equal(settings.moderation.requiredRoleId, '9');
    requireRole(null)(settings);
    assert.equal(settings.moderation.requiredRoleId, null);
  });
});

describe('user blocks', () => {
  test('block records who, when and why; the reason is shown escaped', () => {
    const settings = fresh();
    assert.equal(blockUser('5', '**spam**', '1', 42)(settings), 'blocked <@5> (reason: \\*\\*spam\\*\\*)');
    assert.deepEqual(settings.moderation.blocked['5'], { reason: '**spam**', by: '1', at: 42 });
    assert.equal(unblockUser('5')(settings), 'unblocked <@5>');
    refuses(unblockUser('5'), settings, /is not blocked/);
  });
});

describe('banned words', () => {
  test('stored as typed (tidied), compared without case, never named in the description', () => {
    const settings = fresh();
    assert.equal(banWord('  Bad   Word ')(settings), 'banned a word in prompts');
    assert.deepEqual(settings.moderation.bannedWords, ['Bad Word']);
    refuses(banWord('bad word'), settings, /already banned/);
    refuses(allowWord('other'), settings, /not on the list/);
    assert.equal(allowWord('BAD WORD')(settings), 'allowed a banned word again');
    assert.deepEqual(settings.moderation.bannedWords, []);
    refuses(banWord('\u200b '), settings, /empty/);
  });

  test('at most MAX_BANNED_WORDS', () => {
    const settings = fresh();
    settings.moderation.bannedWords = Array.from({ length: MAX_BANNED_WORDS }, (_, i) => `w${i}`);
    refuses(banWord('one more'), settings, /at most/);
  });
});

describe('channels and the audit log', () => {
  test('allow, disallow (noting when that means everywhere), allow everywhere', () => {
    const settings = fresh();
    allowChannel('1')(settings);
    allowChannel('1')(settings);
    allowChannel('2')(settings);
    assert.deepEqual(settings.moderation.allowedChannelIds, ['1', '2']);
    assert.equal(disallowChannel('1')(settings), 'stopped allowing the bot in <#1>');
    assert.equal(disallowChannel('2')(settings), 'stopped allowing the bot in <#2> (it may now be used in every channel)');
    allowChannel('3')(settings);
    assert.equal(allowEveryChannel()(settings), 'allowed the bot in every channel');
    assert.deepEqual(settings.moderation.allowedChannelIds, []);
  });

  test('audit log on and off', () => {
    const settings = fresh();
    assert.equal(setAuditChannel('4')(settings), 'set the audit log to <#4>');
    assert.equal(setAuditChannel(null)(settings), 'turned the audit log off');
    assert.equal(settings.moderation.auditChannelId, null);
  });
});
