import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderChange, renderEditProblem } from '../../src/discord/admin-messages.js';
import { emptyModeration } from '../../src/moderation/policy.js';
import {
  allowChannel,
  allowEveryChannel,
  allowWord,
  banWord,
  blockUser,
  clearRole,
  disallowChannel,
  EditRefused,
  exemptRole,
  MAX_BANNED_WORDS,
  requireRole,
  roleAllowance,
  setAuditChannel,
  setLimits,
  unblockUser,
  type Change,
  type EditProblem,
  type SettingsEdit,
} from '../../src/moderation/settings-edits.js';
import type { GuildSettings } from '../../src/usage/guild-settings.js';

const fresh = (): GuildSettings => ({ limits: {}, moderation: emptyModeration() });
/** The edit is refused with this problem, which reads (in English) like `message`. */
const refuses = (edit: SettingsEdit, settings: GuildSettings, problem: EditProblem['kind'], message: RegExp) =>
  assert.throws(
    () => edit(settings),
    (error: unknown) => error instanceof EditRefused && error.problem.kind === problem && message.test(renderEditProblem(error.problem, 'en-US')),
  );
/** What an edit says it did, in English as the answer and the audit log word it. */
const said = (change: Change) => renderChange(change, 'en-US');

describe('setLimits', () => {
  test('sets the given limits only, null meaning unlimited, and says what changed', () => {
    const settings = fresh();
    const change = setLimits(false, { dailyLimit: 3, serverDailyCap: null })(settings);
    assert.deepEqual(settings.limits, { dailyLimit: 3, serverDailyCap: null });
    assert.deepEqual(change, { kind: 'limits', reset: false, set: [{ field: 'dailyLimit', value: 3 }, { field: 'serverDailyCap', value: null }] });
    assert.equal(said(change), 'videos per user per day set to 3; videos per day for the whole server set to unlimited');
  });

  test('reset clears every limit before the given ones apply', () => {
    const settings = fresh();
    settings.limits = { dailyLimit: 1, weeklyLimit: 2 };
    assert.match(said(setLimits(true, { cooldownSeconds: 30 })(settings)), /^every limit reset to the bot’s defaults; cooldown/);
    assert.deepEqual(settings.limits, { cooldownSeconds: 30 });
  });

  test('refuses nonsense and nothing at all', () => {
    refuses(setLimits(false, {}), fresh(), 'nothing-to-change', /Nothing to change/);
    refuses(setLimits(false, { maxConcurrent: 0 }), fresh(), 'concurrent-at-least-one', /at least 1/);
    refuses(setLimits(false, { dailyLimit: -5 }), fresh(), 'invalid-limit', /^Videos per user per day cannot be -5\.$/);
    refuses(setLimits(false, { cooldownSeconds: null }), fresh(), 'invalid-limit', /cannot be unlimited/);
    assert.deepEqual(setLimits(true, {})(fresh()), { kind: 'limits', reset: true, set: [] });
  });
});

describe('role edits', () => {
  test('allowance keeps what is not given, and lists what is', () => {
    const settings = fresh();
    assert.equal(said(roleAllowance('7', 3, undefined)(settings)), 'gave <@&7> an allowance of 3 per day');
    assert.deepEqual(roleAllowance('7', undefined, null)(settings), { kind: 'role-allowance', roleId: '7', daily: undefined, weekly: null });
    assert.equal(said(roleAllowance('7', 2, null)(settings)), 'gave <@&7> an allowance of 2 per day and unlimited per week');
    roleAllowance('7', 3, undefined)(settings);
    assert.deepEqual(settings.moderation.roles['7'], { dailyLimit: 3, weeklyLimit: null });
    refuses(roleAllowance('7', undefined, undefined), settings, 'allowance-empty', /daily.*weekly/);
  });

  test('exempt on and off; a role left without rules disappears', () => {
    const settings = fresh();
    exemptRole('8', true)(settings);
    assert.deepEqual(settings.moderation.roles['8'], { exempt: true });
    assert.equal(said(exemptRole('8', false)(settings)), 'stopped exempting <@&8>');
    assert.equal('8' in settings.moderation.roles, false);
    roleAllowance('8', 2, undefined)(settings);
    exemptRole('8', true)(settings);
    exemptRole('8', false)(settings);
    assert.deepEqual(settings.moderation.roles['8'], { dailyLimit: 2 });
  });

  test('clear and require', () => {
    const settings = fresh();
    roleAllowance('9', 1, 1)(settings);
    assert.equal(said(clearRole('9')(settings)), 'removed the rules of <@&9>');
    assert.deepEqual(settings.moderation.roles, {});
    assert.equal(said(requireRole('9')(settings)), 'made <@&9> required to use the bot');
    assert.equal(settings.moderation.requiredRoleId, '9');
    assert.equal(said(requireRole(null)(settings)), 'let everyone use the bot (no role required)');
    assert.equal(settings.moderation.requiredRoleId, null);
  });
});

describe('user blocks', () => {
  test('block records who, when and why; the reason is shown escaped', () => {
    const settings = fresh();
    const change = blockUser('5', '**spam**', '1', 42)(settings);
    assert.deepEqual(change, { kind: 'user-blocked', userId: '5', reason: '**spam**' });
    assert.equal(said(change), 'blocked <@5> (reason: \\*\\*spam\\*\\*)');
    assert.deepEqual(settings.moderation.blocked['5'], { reason: '**spam**', by: '1', at: 42 });
    assert.equal(said(unblockUser('5')(settings)), 'unblocked <@5>');
    refuses(unblockUser('5'), settings, 'not-blocked', /^<@5> is not blocked\.$/);
  });
});

describe('banned words', () => {
  test('stored as typed (tidied), compared without case, never named in the description', () => {
    const settings = fresh();
    assert.deepEqual(banWord('  Bad   Word ')(settings), { kind: 'word-banned' });
    assert.equal(said({ kind: 'word-banned' }), 'banned a word in prompts');
    assert.deepEqual(settings.moderation.bannedWords, ['Bad Word']);
    refuses(banWord('bad word'), settings, 'word-already-banned', /already banned/);
    refuses(allowWord('other'), settings, 'word-not-listed', /not on the list/);
    assert.equal(said(allowWord('BAD WORD')(settings)), 'allowed a banned word again');
    assert.deepEqual(settings.moderation.bannedWords, []);
    refuses(banWord('\u200b '), settings, 'word-empty', /empty/);
  });

  test('at most MAX_BANNED_WORDS', () => {
    const settings = fresh();
    settings.moderation.bannedWords = Array.from({ length: MAX_BANNED_WORDS }, (_, i) => `w${i}`);
    refuses(banWord('one more'), settings, 'too-many-words', /at most 500 words/);
  });
});

describe('channels and the audit log', () => {
  test('allow, disallow (noting when that means everywhere), allow everywhere', () => {
    const settings = fresh();
    assert.equal(said(allowChannel('1')(settings)), 'allowed the bot in <#1>');
    allowChannel('1')(settings);
    allowChannel('2')(settings);
    assert.deepEqual(settings.moderation.allowedChannelIds, ['1', '2']);
    assert.deepEqual(disallowChannel('1')(settings), { kind: 'channel-disallowed', channelId: '1', everywhere: false });
    assert.equal(said(disallowChannel('2')(settings)), 'stopped allowing the bot in <#2> (it may now be used in every channel)');
    allowChannel('3')(settings);
    assert.equal(said(allowEveryChannel()(settings)), 'allowed the bot in every channel');
    assert.deepEqual(settings.moderation.allowedChannelIds, []);
  });

  test('audit log on and off', () => {
    const settings = fresh();
    assert.deepEqual(setAuditChannel('4')(settings), { kind: 'audit-channel', channelId: '4' });
    assert.equal(said(setAuditChannel('4')(settings)), 'set the audit log to <#4>');
    assert.equal(said(setAuditChannel(null)(settings)), 'turned the audit log off');
    assert.equal(settings.moderation.auditChannelId, null);
  });
});

describe('changes in Chinese', () => {
  test('the same values read in Chinese, with no English words', () => {
    const zh = (change: Change) => renderChange(change, 'zh-CN');
    assert.equal(zh({ kind: 'limits', reset: true, set: [{ field: 'dailyLimit', value: 3 }] }), '已将所有限制恢复为机器人的默认值；已将每位用户每天的视频数设为 3');
    assert.equal(zh({ kind: 'user-blocked', userId: '5', reason: 'spam' }), '已封禁 <@5>（原因：spam）');
    assert.equal(zh({ kind: 'role-allowance', roleId: '7', daily: 2, weekly: null }), '已为 <@&7> 设定专属额度：每天 2 个，每周不限');
    assert.equal(zh({ kind: 'bonus-granted', userId: '5', videos: 2 }), '已额外给予 <@5> 2 个视频');
    assert.equal(renderEditProblem({ kind: 'invalid-limit', field: 'cooldownSeconds', value: null }, 'zh-CN'), '用户两次制作视频之间的冷却时间不能设为不限。');
  });
});
