import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_MEMBER_PERMISSIONS, snowflake, type ChatInputOptions, type FakeInteraction, type FakeMessage } from '../fakes/discord.js';
import { firstAnswer, MODERATOR_PERMISSIONS, newUserId } from '../support/users.js';
import { eventually, eventuallyAsync, describeOnEachStore, startWorld, waitSettled, type World } from '../support/world.js';

// ---------------------------------------------------------------------------------------------
// Users, roles and answers
// ---------------------------------------------------------------------------------------------

const MODERATOR = newUserId();
const PROMPT = 'a quiet lake at dawn';
const NOT_A_MODERATOR = 'Only members with the **Manage Server** permission can change or view the Pika settings.';
const BANNED_WORD_REFUSAL = 'Your prompt was refused by this server’s rules. Please rephrase it.';

interface Member {
  userId: string;
  roles?: readonly string[];
  channelId?: string;
}

const member = (roles: readonly string[] = [], channelId?: string): Member => ({ userId: newUserId(), roles, ...(channelId ? { channelId } : {}) });

/** `/pika <subcommand>` as `who`: with their roles, in their channel. */
function pika(world: World, who: Member, options: Record<string, string | number | boolean> = { prompt: PROMPT }, subcommand = 'text'): Promise<FakeInteraction> {
  const invocation: ChatInputOptions = {
    name: 'pika',
    subcommand,
    options,
    userId: who.userId,
    roles: who.roles ?? [],
    ...(who.channelId ? { channelId: who.channelId } : {}),
  };
  return world.discord.chatInput(invocation);
}

async function quotaOf(world: World, who: Member): Promise<string> {
  return firstAnswer(await pika(world, who, {}, 'quota'));
}

/** `/pika-admin <subcommand>` as a moderator; the answer must be the ephemeral first response. */
async function moderate(world: World, subcommand: string, options: Record<string, string | number | boolean> = {}): Promise<string> {
  const interaction = await world.discord.chatInput({ name: 'pika-admin', subcommand, options, userId: MODERATOR, memberPermissions: MODERATOR_PERMISSIONS });
  const answer = await firstAnswer(interaction);
  assert.equal(interaction.callbacks[0]!.type, 4, `/pika-admin ${subcommand} answered at once`);
  assert.equal(interaction.ephemeral, true, `/pika-admin ${subcommand} answered privately: ${answer}`);
  return answer;
}

/** The command is refused: its FIRST response is an ephemeral message, and nothing goes to Pika. */
async function refused(world: World, interaction: Promise<FakeInteraction>): Promise<string> {
  const calls = world.pika.generateCalls.length;
  const answered = await interaction;
  const answer = await firstAnswer(answered);
  assert.equal(answered.callbacks[0]!.type, 4, `refused at once, not deferred: ${answer}`);
  assert.equal(answered.ephemeral, true, `refused privately: ${answer}`);
  assert.equal(answered.callbacks.length, 1);
  assert.equal(world.pika.generateCalls.length, calls, 'no generate call for a refused command');
  return answer;
}

/** The command is accepted (deferred publicly) and delivers a video. */
async function delivered(world: World, interaction: Promise<FakeInteraction>): Promise<FakeInteraction> {
  const answered = await interaction;
  await answered.waitFor((i) => i.callbacks.length > 0, 10_000);
  assert.equal(answered.callbacks[0]!.type, 5, `accepted: ${String(answered.callbacks[0]!.data?.content ?? '')}`);
  assert.equal(answered.ephemeral, false);
  await waitSettled(answered);
  assert.match(String(answered.original!.embeds[0]?.title), /: done$/);
  return answered;
}

const video = (world: World, who: Member, options?: Record<string, string | number | boolean>) => delivered(world, pika(world, who, options));

function auditMessages(world: World, channelId: string): FakeMessage[] {
  return world.discord.channelMessages.filter((message) => message.channel_id === channelId);
}

const dailyRefusal = (n: number) => new RegExp(`^You have used all ${n} videos? of your daily allowance here\\. You can make more <t:\\d+:R>\\.$`);

// ---------------------------------------------------------------------------------------------

describeOnEachStore('moderation, end to end', (store) => {
  let world: World;
  /** A channel that exists in the server besides the default one. */
  const auditChannel = snowflake();

  before(async () => {
    world = await startWorld({
      DEFAULT_DAILY_LIMIT: '1',
      DEFAULT_WEEKLY_LIMIT: 'unlimited',
      DEFAULT_COOLDOWN_SECONDS: '0',
    }, {}, store);
  });
  after(async () => {
    await world?.close();
  });

  test('a non-moderator is refused every /pika-admin subcommand, privately, and nothing changes', async () => {
    const role = world.discord.createRole();
    const target = newUserId();
    const channel = snowflake();
    const settingsBefore = await moderate(world, 'show');
    const subcommands: Array<[string, Record<string, string | number | boolean>]> = [
      ['limits', { daily: 50 }],
      ['show', {}],
      ['usage', {}],
      ['usage', { user: target }],
      ['role allowance', { role, daily: 10 }],
      ['role exempt', { role, exempt: true }],
      ['role clear', { role }],
      ['role require', { role }],
      ['role require', {}],
      ['user grant', { user: target, videos: 5 }],
      ['user reset', { user: target }],
      ['user block', { user: target, reason: 'no' }],
      ['user unblock', { user: target }],
      ['words add', { word: 'lake' }],
      ['words remove', { word: 'lake' }],
      ['words list', {}],
      ['channels add', { channel }],
      ['channels remove', { channel }],
      ['channels clear', {}],
      ['audit-log', { channel }],
      ['audit-log', {}],
    ];
    const interactions = await Promise.all(
      subcommands.map(([subcommand, options]) =>
        world.discord.chatInput({ name: 'pika-admin', subcommand, options, userId: target, memberPermissions: DEFAULT_MEMBER_PERMISSIONS }),
      ),
    );
    for (const [index, interaction] of interactions.entries()) {
      const what = `/pika-admin ${subcommands[index]![0]}`;
      assert.equal(await firstAnswer(interaction), NOT_A_MODERATOR, what);
      assert.equal(interaction.callbacks[0]!.type, 4, what);
      assert.equal(interaction.ephemeral, true, what);
    }
    assert.equal(await moderate(world, 'show'), settingsBefore);
    assert.equal(world.discord.channelMessages.length, 0, 'nothing was written to any channel');
  });

  test('audit log: moderator changes and videos are recorded in the channel, pinging nobody', async () => {
    assert.equal(await moderate(world, 'audit-log', { channel: auditChannel }), `Done: set the audit log to <#${auditChannel}>.`);
    await eventually(() => auditMessages(world, auditChannel).length === 1, 5000, 'the first audit entry');
    const [first] = auditMessages(world, auditChannel);
    assert.equal(first!.content, `🛠️ <@${MODERATOR}> set the audit log to <#${auditChannel}>`);
    assert.deepEqual(first!.allowed_mentions, { parse: [] });

    const maker = member();
    world.pika.nextTask({ seed: 424242 });
    const made = await video(world, maker, { prompt: 'audit this lake' });
    await eventually(() => auditMessages(world, auditChannel).length === 2, 5000, 'the video’s audit entry');
    const entry = auditMessages(world, auditChannel)[1]!;
    const original = made.original!;
    assert.equal(
      entry.content,
      [
        `🎬 <@${maker.userId}> made a video with \`/pika text\``,
        'Prompt: audit this lake',
        'Seed: 424242',
        `Message: https://discord.com/channels/${world.discord.guildId}/${original.channel_id}/${original.id}`,
      ].join('\n'),
    );
    assert.deepEqual(entry.allowed_mentions, { parse: [] });

    const target = newUserId();
    await moderate(world, 'user grant', { user: target, videos: 1 });
    await moderate(world, 'limits', { cooldown: 0 });
    await eventually(() => auditMessages(world, auditChannel).length === 4, 5000, 'two more audit entries');
    assert.deepEqual(
      auditMessages(world, auditChannel).slice(2).map((m) => [m.content, m.allowed_mentions]),
      [
        [`🛠️ <@${MODERATOR}> granted <@${target}> 1 extra video`, { parse: [] }],
        [`🛠️ <@${MODERATOR}> cooldown between a user’s videos set to 0`, { parse: [] }],
      ],
    );
    await moderate(world, 'limits', { reset: true });
  });

  test('role allowance: a role’s daily allowance, the most generous of two roles, unlimited beats numbers', async () => {
    const three = world.discord.createRole();
    const two = world.discord.createRole();
    const four = world.discord.createRole();
    const unlimited = world.discord.createRole();
    assert.equal(await moderate(world, 'role allowance', { role: three, daily: 3 }), `Done: gave <@&${three}> an allowance of 3 per day.`);
    await moderate(world, 'role allowance', { role: two, daily: 2 });
    await moderate(world, 'role allowance', { role: four, daily: 4, weekly: 10 });
    assert.equal(
      await moderate(world, 'role allowance', { role: unlimited, daily: -1 }),
      `Done: gave <@&${unlimited}> an allowance of unlimited per day.`,
    );
    assert.equal(await moderate(world, 'role allowance', { role: three }), 'Give `daily`, `weekly` or both.');

    // A member with the role gets 3 videos instead of the default 1.
    const withThree = member([three]);
    assert.match(await quotaOf(world, withThree), /^Today: 3 videos left · /m);
    for (let i = 0; i < 3; i++) await video(world, withThree, { prompt: `role video ${i}` });
    assert.match(await refused(world, pika(world, withThree)), dailyRefusal(3));

    // Two roles: the more generous one, whichever order Discord lists them in.
    assert.match(await quotaOf(world, member([two, four])), /^Today: 4 videos left · .*\nThis week: 10 videos left · /m);
    assert.match(await quotaOf(world, member([four, two])), /^Today: 4 videos left · /m);
    // Unlimited beats any number; a member without a rule of any role keeps the default.
    const withUnlimited = member([four, unlimited]);
    assert.match(await quotaOf(world, withUnlimited), /^Today: unlimited\nThis week: 10 videos left · /m);
    await video(world, withUnlimited);
    await video(world, withUnlimited);
    assert.match(await quotaOf(world, withUnlimited), /^Today: unlimited\nThis week: 8 videos left · /m);
    assert.match(await quotaOf(world, member([world.discord.createRole()])), /^Today: 1 video left · /m);

    // Clearing a role's rules puts its members back on the default.
    assert.equal(await moderate(world, 'role clear', { role: three }), `Done: removed the rules of <@&${three}>.`);
    assert.match(await quotaOf(world, member([three])), /^Today: 1 video left · /m);
  });

  test('role exemption: exempt members are held to neither their daily allowance nor the server’s cap', async () => {
    const exemptRole = world.discord.createRole();
    assert.equal(await moderate(world, 'role exempt', { role: exemptRole, exempt: true }), `Done: exempted <@&${exemptRole}> from the limits.`);
    // The server has used up its day: cap it at what is already used.
    const usedToday = Number(/Today \(UTC\): (\d+)/.exec(await moderate(world, 'usage'))![1]);
    await moderate(world, 'limits', { server_daily: usedToday });
    assert.match(await refused(world, pika(world, member())), /^This server has reached its limit of \d+ videos? for today\./);

    const exempt = member([exemptRole]);
    assert.equal(await quotaOf(world, exempt), '**Your Pika allowance in this server**\nOne of your roles exempts you from this server’s limits.');
    await video(world, exempt, { prompt: 'exempt one' });
    await video(world, exempt, { prompt: 'exempt two' });
    await video(world, exempt, { prompt: 'exempt three' });

    assert.equal(await moderate(world, 'role exempt', { role: exemptRole, exempt: false }), `Done: stopped exempting <@&${exemptRole}>.`);
    await moderate(world, 'limits', { reset: true });
    assert.match(await refused(world, pika(world, exempt)), dailyRefusal(1));
  });

  test(
    '/pika-admin show lists no empty rule for a role that was exempted and then not',
    {},
    async () => {
      const role = world.discord.createRole();
      await moderate(world, 'role exempt', { role, exempt: true });
      await moderate(world, 'role exempt', { role, exempt: false });
      const line = (await moderate(world, 'show')).split('\n').find((l) => l.startsWith(`<@&${role}>`));
      assert.ok(line === undefined || !line.endsWith(': '), `show has "${line}"`);
    },
  );

  test('required role: members without it are refused with the role named; `role require` without a role lifts it', async () => {
    const required = world.discord.createRole();
    assert.equal(await moderate(world, 'role require', { role: required }), `Done: made <@&${required}> required to use the bot.`);
    try {
      const without = member([world.discord.createRole()]);
      assert.equal(await refused(world, pika(world, without)), `You need the <@&${required}> role to make videos in this server.`);
      await video(world, member([required]));
      assert.match(await moderate(world, 'show'), new RegExp(`^Required role: <@&${required}>$`, 'm'));
    } finally {
      assert.equal(await moderate(world, 'role require'), 'Done: let everyone use the bot (no role required).');
    }
    await video(world, member());
    assert.match(await moderate(world, 'show'), /^Required role: none \(everyone may use the bot\)$/m);
  });

  test('grant: extra videos once the allowance is used, then refused; shown by /pika quota and /pika-admin usage user:', async () => {
    const granted = member();
    const bystander = member();
    await video(world, bystander);
    assert.equal(await moderate(world, 'user grant', { user: granted.userId, videos: 1 }), `Done: <@${granted.userId}> now has 1 extra video.`);
    assert.equal(await moderate(world, 'user grant', { user: granted.userId, videos: 1 }), `Done: <@${granted.userId}> now has 2 extra videos.`);
    assert.match(await quotaOf(world, granted), /^Today: 1 video left · [\s\S]*^Extra videos granted: 2$/m);

    await video(world, granted, { prompt: 'allowance' });
    assert.match(await quotaOf(world, granted), /^Today: 0 videos left · [\s\S]*^Extra videos granted: 2$/m);
    await video(world, granted, { prompt: 'first extra' });
    assert.match(await quotaOf(world, granted), /^Extra videos granted: 1$/m);
    await video(world, granted, { prompt: 'second extra' });
    assert.doesNotMatch(await quotaOf(world, granted), /Extra videos granted/);
    assert.match(await refused(world, pika(world, granted)), dailyRefusal(1));

    let usage = '';
    await eventuallyAsync(async () => /In progress: 0/.test((usage = await moderate(world, 'usage', { user: granted.userId }))), 5000, 'the last video to settle');
    assert.equal(
      usage,
      [
        `**Pika usage of <@${granted.userId}> in this server**`,
        'Today (UTC): 3 videos · This week: 3 videos',
        'In progress: 0',
        'Extra videos granted: 0',
        'Blocked: no',
      ].join('\n'),
    );
    assert.doesNotMatch(usage, new RegExp(bystander.userId), 'only the member asked about');
    assert.match(await moderate(world, 'usage', { user: bystander.userId }), /^Today \(UTC\): 1 video · This week: 1 video$/m);
  });

  test('reset: gives a member their allowance back', async () => {
    const user = member();
    await video(world, user);
    assert.match(await refused(world, pika(world, user)), dailyRefusal(1));
    assert.equal(await moderate(world, 'user reset', { user: user.userId }), `Done: <@${user.userId}> starts today and this week afresh.`);
    assert.match(await quotaOf(world, user), /^Today: 1 video left · /m);
    await video(world, user);
    assert.match(await refused(world, pika(world, user)), dailyRefusal(1));
  });

  test('block with a reason: refused with the reason until unblocked', async () => {
    const user = member();
    const other = member();
    assert.equal(
      await moderate(world, 'user block', { user: user.userId, reason: '  spamming the channel ' }),
      `Done: blocked <@${user.userId}> (reason: spamming the channel).`,
    );
    assert.equal(
      await refused(world, pika(world, user)),
      'A moderator has blocked you from making videos in this server. Reason: spamming the channel',
    );
    assert.match(await moderate(world, 'usage', { user: user.userId }), /^Blocked: yes$/m);
    assert.match(await moderate(world, 'show'), new RegExp(`^<@${user.userId}>: spamming the channel$`, 'm'));
    await video(world, other);

    // Without a reason, none is shown.
    await moderate(world, 'user block', { user: other.userId });
    assert.equal(await refused(world, pika(world, other)), 'A moderator has blocked you from making videos in this server.');
    await moderate(world, 'user unblock', { user: other.userId });

    assert.equal(await moderate(world, 'user unblock', { user: user.userId }), `Done: unblocked <@${user.userId}>.`);
    assert.equal(await moderate(world, 'user unblock', { user: user.userId }), `<@${user.userId}> is not blocked.`);
    assert.match(await moderate(world, 'usage', { user: user.userId }), /^Blocked: no$/m);
    await video(world, user);
  });

  test('banned words: whole words in prompt and negative_prompt, any case; the word is never repeated', async () => {
    assert.equal(await moderate(world, 'words add', { word: 'Cat' }), 'Done: banned a word in prompts.');
    assert.equal(await moderate(world, 'words add', { word: '  CAT ' }), 'That word is already banned.');
    await moderate(world, 'words add', { word: 'Bad   Phrase' });

    const user = member();
    const prompts: Array<Record<string, string>> = [
      { prompt: 'A CAT runs' },
      { prompt: 'a cat.' },
      { prompt: 'a quiet lake', negative_prompt: 'no Cat please' },
      { prompt: 'a really bad\tphrase here' },
      { prompt: 'ａ ｃａｔ' },
    ];
    for (const options of prompts) {
      const answer = await refused(world, pika(world, user, options));
      assert.equal(answer, BANNED_WORD_REFUSAL, JSON.stringify(options));
      assert.doesNotMatch(answer, /\bcat\b|bad phrase/i);
    }
    // Nothing was counted for the refusals, and part of a word is not the word.
    await video(world, user, { prompt: 'concatenate the clouds', negative_prompt: 'bad phrases, cats' });

    // The audit log says a word was banned, never which.
    assert.ok(auditMessages(world, auditChannel).some((m) => m.content === `🛠️ <@${MODERATOR}> banned a word in prompts`));
    assert.ok(auditMessages(world, auditChannel).every((m) => !/\bcat\b|phrase/i.test(m.content)));

    // Listed as the moderator typed them (spaces tidied); matching ignores case.
    assert.equal(await moderate(world, 'words list'), '**Banned words (2)**\n• Cat\n• Bad Phrase');
    assert.match(await moderate(world, 'show'), /^__Banned words__ \(2; see `\/pika-admin words list`\)$/m);
    assert.equal(await moderate(world, 'words remove', { word: 'CAT' }), 'Done: allowed a banned word again.');
    assert.equal(await moderate(world, 'words remove', { word: 'cat' }), 'That word is not on the list.');
    assert.equal(await moderate(world, 'words remove', { word: 'bad phrase' }), 'Done: allowed a banned word again.');
    assert.equal(await moderate(world, 'words list'), 'No words are banned.');
    await video(world, member(), { prompt: 'A CAT runs' });
  });

  test('channel allowlist: refused elsewhere with the allowed channels listed; `channels clear` lifts it', async () => {
    const allowed = snowflake();
    const alsoAllowed = snowflake();
    assert.equal(await moderate(world, 'channels add', { channel: allowed }), `Done: allowed the bot in <#${allowed}>.`);
    await moderate(world, 'channels add', { channel: alsoAllowed });
    await moderate(world, 'channels add', { channel: allowed });
    try {
      const user = member();
      assert.equal(
        await refused(world, pika(world, user)),
        `I can’t be used in this channel. Please use <#${allowed}>, <#${alsoAllowed}>.`,
      );
      assert.match(await moderate(world, 'show'), new RegExp(`^__Channels__: <#${allowed}>, <#${alsoAllowed}>$`, 'm'));
      const made = await video(world, { ...user, channelId: allowed });
      assert.equal(made.original!.channel_id, allowed);

      assert.equal(await moderate(world, 'channels remove', { channel: alsoAllowed }), `Done: stopped allowing the bot in <#${alsoAllowed}>.`);
      assert.equal(await refused(world, pika(world, member([], alsoAllowed))), `I can’t be used in this channel. Please use <#${allowed}>.`);
    } finally {
      assert.equal(await moderate(world, 'channels clear'), 'Done: allowed the bot in every channel.');
    }
    await video(world, member());
    assert.match(await moderate(world, 'show'), /^__Channels__: every channel$/m);
  });

  test(
    'a banned word in the free-text pikaffect option is refused too',
    {},
    async () => {
      await moderate(world, 'words add', { word: 'forbiddenword' });
      try {
        const answer = await refused(world, pika(world, member(), { prompt: PROMPT, pikaffect: 'forbiddenword' }));
        assert.equal(answer, BANNED_WORD_REFUSAL);
      } finally {
        await moderate(world, 'words remove', { word: 'forbiddenword' });
        await Promise.all(world.discord.interactions.filter((i) => i.callbacks[0]?.type === 5 && !i.original?.embeds[0]?.title?.match(/done|failed/)).map((i) => waitSettled(i)));
      }
    },
  );

  test('/pika-admin show covers roles, required role, blocked users, banned words, channels and audit log; all of it survives a restart', async () => {
    const allowance = world.discord.createRole();
    const exempt = world.discord.createRole();
    const required = world.discord.createRole();
    const blocked = member();
    const granted = member();
    const allowedChannel = snowflake();

    await moderate(world, 'role allowance', { role: allowance, daily: 3, weekly: -1 });
    await moderate(world, 'role exempt', { role: exempt, exempt: true });
    await moderate(world, 'role require', { role: required });
    await moderate(world, 'user block', { user: blocked.userId, reason: 'posted spam' });
    await moderate(world, 'user grant', { user: granted.userId, videos: 2 });
    await moderate(world, 'words add', { word: 'Dragon' });
    await moderate(world, 'words add', { word: 'dark castle' });
    await moderate(world, 'channels add', { channel: allowedChannel });

    const shown = await moderate(world, 'show');
    for (const line of [
      `<@&${allowance}>: 3 per day, unlimited per week`,
      `<@&${exempt}>: exempt from limits`,
      `Required role: <@&${required}>`,
      `<@${blocked.userId}>: posted spam`,
      '__Banned words__ (2; see `/pika-admin words list`)',
      `__Channels__: <#${allowedChannel}>`,
      `__Audit log__: <#${auditChannel}>`,
    ]) {
      assert.ok(shown.split('\n').includes(line), `show has "${line}":\n${shown}`);
    }
    assert.ok(shown.indexOf('__Roles__') < shown.indexOf(`<@&${allowance}>`) && shown.indexOf(`<@&${allowance}>`) < shown.indexOf('Required role'));
    assert.ok(shown.indexOf('__Blocked users__') < shown.indexOf(`<@${blocked.userId}>`));

    // The restarted bot learns the server's roles from GUILD_CREATE, as on Discord.
    await world.restartBot();

    assert.equal(await moderate(world, 'show'), shown, 'the whole configuration survived');
    assert.equal(await moderate(world, 'words list'), '**Banned words (2)**\n• Dragon\n• dark castle');

    const inAllowed = (roles: readonly string[]): Member => member(roles, allowedChannel);
    // Allowance role and grant.
    assert.match(await quotaOf(world, inAllowed([required, allowance])), /^Today: 3 videos left · .*\nThis week: unlimited$/m);
    assert.match(await quotaOf(world, granted), /^Extra videos granted: 2$/m);
    assert.match(await quotaOf(world, inAllowed([required, exempt])), /exempts you/);
    // Block, required role, channel and words, each refusing.
    assert.equal(
      await refused(world, pika(world, { ...blocked, roles: [required], channelId: allowedChannel })),
      'A moderator has blocked you from making videos in this server. Reason: posted spam',
    );
    assert.equal(await refused(world, pika(world, inAllowed([allowance]))), `You need the <@&${required}> role to make videos in this server.`);
    assert.equal(await refused(world, pika(world, member([required]))), `I can’t be used in this channel. Please use <#${allowedChannel}>.`);
    assert.equal(await refused(world, pika(world, inAllowed([required]), { prompt: 'a DRAGON flies' })), BANNED_WORD_REFUSAL);
    assert.equal(await refused(world, pika(world, inAllowed([required]), { prompt: 'a lake', negative_prompt: 'no dark   castle' })), BANNED_WORD_REFUSAL);

    // And a member who meets every rule makes a video, recorded in the audit log.
    const ok = inAllowed([required, allowance]);
    const before = auditMessages(world, auditChannel).length;
    world.pika.nextTask({ seed: 777 });
    const made = await video(world, ok, { prompt: 'after the restart' });
    await eventually(() => auditMessages(world, auditChannel).length > before, 5000, 'the audit entry after the restart');
    const entry = auditMessages(world, auditChannel).at(-1)!;
    assert.match(entry.content, new RegExp(`^🎬 <@${ok.userId}> made a video with \`/pika text\`\nPrompt: after the restart\nSeed: 777\nMessage: https://discord\\.com/channels/${world.discord.guildId}/${allowedChannel}/${made.original!.id}$`));
    assert.deepEqual(entry.allowed_mentions, { parse: [] });
    assert.match(await quotaOf(world, ok), /^Today: 2 videos left · /m);
  });
});
