import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_MEMBER_PERMISSIONS, snowflake, type FakeMessage } from '../fakes/discord.js';
import { firstAnswer, MODERATOR_PERMISSIONS, newUserId } from '../support/users.js';
import { eventually, startWorld, waitSettled, type World } from '../support/world.js';

/**
 * /pika-admin speaks the moderator's language (`locale`), and the audit-log channel the
 * server's (`guild_locale`), whatever language the moderator who changed something reads.
 */

type Options = Record<string, string | number | boolean>;

/** `/pika-admin <subcommand>` as a moderator with this client language; the private answer. */
async function adminIn(world: World, locale: string, subcommand: string, options: Options = {}, extra: { userId?: string; guildLocale?: string; memberPermissions?: bigint } = {}): Promise<string> {
  const interaction = await world.discord.chatInput({
    name: 'pika-admin',
    subcommand,
    options,
    locale,
    memberPermissions: MODERATOR_PERMISSIONS,
    ...extra,
  });
  const answer = await firstAnswer(interaction);
  assert.equal(interaction.ephemeral, true, `/pika-admin ${subcommand} answered privately: ${answer}`);
  return answer;
}

/**
 * No English sentence: once mentions, timestamps, code spans (command and option names), links
 * and the names Pika and UTC are set aside, not one Latin word is left.
 */
function assertChinese(text: string, what: string): void {
  assert.match(text, /\p{Script=Han}/u, `${what} is Chinese: ${text}`);
  const words = text
    .replace(/<(?:@&?|#|t:)[^>]+>/g, '')
    .replace(/`[^`]*`/g, '')
    .replace(/https:\/\/\S+/g, '')
    .replace(/\bPika\b|\bUTC\b/g, '');
  assert.doesNotMatch(words, /[A-Za-z]{2,}/, `${what} has no English words: ${text}`);
}

function assertEnglish(text: string, what: string): void {
  assert.doesNotMatch(text, /\p{Script=Han}/u, `${what} has no Chinese: ${text}`);
  assert.match(text, /[A-Za-z]{3,}/, `${what} is English: ${text}`);
}

function channelMessages(world: World, channelId: string): FakeMessage[] {
  return world.discord.channelMessages.filter((message) => message.channel_id === channelId);
}

describe('/pika-admin in the moderator’s language, the audit log in the server’s', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '5', DEFAULT_WEEKLY_LIMIT: '20' });
  });
  after(async () => {
    await world?.close();
  });

  test('limits: a zh-CN moderator is answered in Chinese, an en-US one in English', async () => {
    const zh = await adminIn(world, 'zh-CN', 'limits', { daily: 3, cooldown: 30 });
    const [zhDone, ...zhSettings] = zh.split('\n\n');
    assert.equal(zhDone, '完成：已将每位用户每天的视频数设为 3；已将用户两次制作视频之间的冷却时间设为 30。');
    assert.match(zhSettings.join('\n\n'), /^\*\*本服务器的 Pika 设置\*\*\n__限制__\n每位用户每天的视频数：3\n每位用户每周的视频数：20（默认）\n/);
    assert.match(zh, /^用户两次制作视频之间的冷却时间：30 秒$/m);
    assertChinese(zh, 'zh-CN limits');

    const en = await adminIn(world, 'en-US', 'limits', { weekly: -1 });
    assert.match(en, /^Done: videos per user per week set to unlimited\.\n\n\*\*Pika settings for this server\*\*\n/);
    assert.match(en, /^Videos per user per day: 3$/m);
    assertEnglish(en, 'en-US limits');

    assert.equal(await adminIn(world, 'zh-CN', 'limits', { concurrent: 0 }), '`同时进行` 至少为 1，或用 -1 表示不限。');
    assert.equal(await adminIn(world, 'zh-CN', 'limits'), '没有要更改的内容：请至少给出一项限制，或使用 `重置`。');
    assert.equal(await adminIn(world, 'en-US', 'limits'), 'Nothing to change: give at least one limit, or `reset`.');
  });

  test('show: every line of the configuration in the moderator’s language; zh-TW falls back to Simplified Chinese', async () => {
    const role = world.discord.createRole();
    await adminIn(world, 'en-US', 'role allowance', { role, daily: 10, weekly: -1 });
    await adminIn(world, 'en-US', 'channels add', { channel: world.discord.channelId });
    await adminIn(world, 'en-US', 'user block', { user: newUserId() });

    const zh = await adminIn(world, 'zh-CN', 'show');
    assertChinese(zh, 'zh-CN show');
    assert.match(zh, new RegExp(`^<@&${role}>：每天 10 个，每周不限$`, 'm'));
    assert.match(zh, /^所有服务器合计（由运营者设定）：每天不设上限$/m);
    assert.match(zh, /^__审计日志__：关闭$/m);
    assert.equal(await adminIn(world, 'zh-TW', 'show'), zh);

    const en = await adminIn(world, 'en-US', 'show');
    assertEnglish(en, 'en-US show');
    assert.match(en, new RegExp(`^<@&${role}>: 10 per day, unlimited per week$`, 'm'));
    assert.match(en, /^__Audit log__: off$/m);

    await adminIn(world, 'en-US', 'role clear', { role });
    await adminIn(world, 'en-US', 'channels clear');
  });

  test('usage, for the server and for one member', async () => {
    const zh = await adminIn(world, 'zh-CN', 'usage');
    assert.equal(zh.split('\n')[0], '**本服务器的 Pika 用量**');
    assert.match(zh, /^今天（UTC）：\d+ 个视频 · 本周：\d+ 个视频$/m);
    assertChinese(zh, 'zh-CN usage');
    const en = await adminIn(world, 'en-US', 'usage');
    assert.equal(en.split('\n')[0], '**Pika usage in this server**');
    assertEnglish(en, 'en-US usage');

    const someone = newUserId();
    const zhUser = await adminIn(world, 'zh-CN', 'usage', { user: someone });
    assert.equal(
      zhUser,
      [`**<@${someone}> 在本服务器的 Pika 用量**`, '今天（UTC）：0 个视频 · 本周：0 个视频', '进行中：0', '额外获赠的视频：0', '已封禁：否'].join('\n'),
    );
    assertEnglish(await adminIn(world, 'en-US', 'usage', { user: someone }), 'en-US user usage');
  });

  test('words: changes, the list and refusals', async () => {
    assert.equal(await adminIn(world, 'zh-CN', 'words list'), '没有禁用任何词。');
    assert.equal(await adminIn(world, 'zh-CN', 'words add', { word: 'gore' }), '完成：已在提示词中禁用一个词。');
    assert.equal(await adminIn(world, 'zh-CN', 'words add', { word: 'GORE' }), '这个词已经被禁用了。');
    assert.equal(await adminIn(world, 'zh-CN', 'words list'), '**禁用词（1 个）**\n• gore');
    assert.equal(await adminIn(world, 'en-US', 'words list'), '**Banned words (1)**\n• gore');
    assert.equal(await adminIn(world, 'en-US', 'words add', { word: 'gore' }), 'That word is already banned.');
    assert.equal(await adminIn(world, 'zh-CN', 'words remove', { word: 'other' }), '这个词不在禁用列表中。');
    assert.equal(await adminIn(world, 'zh-CN', 'words remove', { word: 'gore' }), '完成：已重新允许一个被禁用的词。');
  });

  test('user: block, unblock, grant and reset', async () => {
    const troll = newUserId();
    assert.equal(await adminIn(world, 'zh-CN', 'user block', { user: troll, reason: '刷屏' }), `完成：已封禁 <@${troll}>（原因：刷屏）。`);
    assert.equal(await adminIn(world, 'zh-CN', 'user unblock', { user: troll }), `完成：已解除对 <@${troll}> 的封禁。`);
    assert.equal(await adminIn(world, 'zh-CN', 'user unblock', { user: troll }), `<@${troll}> 没有被封禁。`);
    assert.equal(await adminIn(world, 'en-US', 'user unblock', { user: troll }), `<@${troll}> is not blocked.`);
    assert.equal(await adminIn(world, 'en-US', 'user block', { user: troll, reason: 'spam' }), `Done: blocked <@${troll}> (reason: spam).`);

    const ana = newUserId();
    assert.equal(await adminIn(world, 'zh-CN', 'user grant', { user: ana, videos: 2 }), `完成：<@${ana}> 现在共有 2 个额外视频。`);
    assert.equal(await adminIn(world, 'en-US', 'user grant', { user: ana, videos: 1 }), `Done: <@${ana}> now has 3 extra videos.`);
    assertChinese(await adminIn(world, 'zh-CN', 'user reset', { user: ana }), 'zh-CN user reset');
    assert.equal(await adminIn(world, 'en-US', 'user reset', { user: ana }), `Done: <@${ana}> starts today and this week afresh.`);
  });

  test('a member without Manage Server is refused in their language', async () => {
    const member = { userId: newUserId(), memberPermissions: DEFAULT_MEMBER_PERMISSIONS };
    assert.equal(await adminIn(world, 'zh-CN', 'show', {}, member), '只有拥有 **管理服务器** 权限的成员才能查看或更改 Pika 设置。');
    assert.equal(await adminIn(world, 'en-US', 'show', {}, member), 'Only members with the **Manage Server** permission can change or view the Pika settings.');
  });

  test('the audit-log channel of a zh-CN server is written in Chinese, even for an English-speaking moderator', async () => {
    const auditChannel = snowflake();
    const moderator = newUserId();
    const asModerator = { userId: moderator, guildLocale: 'zh-CN' };
    assert.equal(await adminIn(world, 'en-US', 'audit-log', { channel: auditChannel }, asModerator), `Done: set the audit log to <#${auditChannel}>.`);
    await eventually(() => channelMessages(world, auditChannel).length === 1, 5000, 'the first audit entry');
    assert.equal(channelMessages(world, auditChannel)[0]!.content, `🛠️ <@${moderator}> 已将审计日志频道设为 <#${auditChannel}>`);

    const target = newUserId();
    await adminIn(world, 'zh-CN', 'user grant', { user: target, videos: 1 }, asModerator);
    await adminIn(world, 'en-US', 'limits', { daily: 4 }, asModerator);
    await adminIn(world, 'en-US', 'words add', { word: 'secretword' }, asModerator);
    await eventually(() => channelMessages(world, auditChannel).length === 4, 5000, 'three more audit entries');
    assert.deepEqual(
      channelMessages(world, auditChannel).slice(1).map((m) => m.content),
      [`🛠️ <@${moderator}> 已额外给予 <@${target}> 1 个视频`, `🛠️ <@${moderator}> 已将每位用户每天的视频数设为 4`, `🛠️ <@${moderator}> 已在提示词中禁用一个词`],
    );

    // A video made in the server: the entry follows the server's language, not the maker's.
    const maker = newUserId();
    world.pika.nextTask({ seed: 777 });
    const made = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: '湖上的黎明' }, userId: maker, locale: 'en-US', guildLocale: 'zh-CN' });
    await made.waitFor((i) => i.callbacks.length > 0, 10_000);
    await waitSettled(made);
    await eventually(() => channelMessages(world, auditChannel).length === 5, 5000, 'the video’s audit entry');
    const original = made.original!;
    assert.equal(
      channelMessages(world, auditChannel)[4]!.content,
      [
        `🎬 <@${maker}> 用 \`/pika 文生视频\` 制作了一个视频`,
        '提示词：湖上的黎明',
        '种子：777',
        `消息：https://discord.com/channels/${world.discord.guildId}/${original.channel_id}/${original.id}`,
      ].join('\n'),
    );
    for (const message of channelMessages(world, auditChannel)) assertChinese(message.content, 'audit entry');

    // The server switches to English: the next lines are English, and turning the log off is recorded.
    await adminIn(world, 'zh-CN', 'words remove', { word: 'secretword' }, { userId: moderator, guildLocale: 'en-US' });
    assert.equal(await adminIn(world, 'zh-CN', 'audit-log', {}, { userId: moderator, guildLocale: 'en-US' }), '完成：已关闭审计日志。');
    await eventually(() => channelMessages(world, auditChannel).length === 7, 5000, 'the last two audit entries');
    assert.deepEqual(
      channelMessages(world, auditChannel).slice(5).map((m) => m.content),
      [`🛠️ <@${moderator}> allowed a banned word again`, `🛠️ <@${moderator}> turned the audit log off`],
    );
  });
});
