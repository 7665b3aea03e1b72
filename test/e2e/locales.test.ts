import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { firstAnswer, newUserId } from '../support/users.js';
import { eventually, startWorld, waitSettled, type World } from '../support/world.js';

/**
 * A zh-CN user and an en-US user through the main path, a refusal, a failure and `/pika quota`:
 * each reads only their own language. A video posted in the channel after the token expired
 * belongs to the server, so it speaks the server's language.
 */

const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

/** The words of a message, without what is not language: code, mentions, timestamps, links. */
function wordsOf(text: string): string {
  return text
    .replace(/`[^`]*`/g, ' ')
    .replace(/<(?:@[!&]?|#|t:)[^>]+>/g, ' ')
    .replace(/\]\([^)]*\)/g, '] ')
    .replace(/https?:\/\/\S+/g, ' ');
}

function assertChinese(text: string, what: string): void {
  assert.match(text, CJK, `${what} has Chinese: ${text}`);
  const english = /[A-Za-z]+(?:[\s,.;:'’-]+[A-Za-z]+){2,}/.exec(wordsOf(text));
  assert.equal(english, null, `${what} has an English sentence (${english?.[0]}): ${text}`);
}

function assertEnglish(text: string, what: string): void {
  assert.doesNotMatch(text, CJK, `${what} has no Chinese: ${text}`);
  assert.match(text, /[A-Za-z]+ [A-Za-z]+/, `${what} is written in words: ${text}`);
}

/** Everything a reader sees of a message body (content, embeds, buttons). */
function textOfBody(body: any): string {
  const embeds = (body?.embeds ?? []).flatMap((e: any) => [e.title, e.description, ...(e.fields ?? []).flatMap((f: any) => [f.name, f.value])]);
  const buttons = (body?.components ?? []).flatMap((row: any) => (row.components ?? []).map((c: any) => c.label));
  return [body?.content, ...embeds, ...buttons].filter(Boolean).join('\n');
}

/** Every edit of the interaction's reply as the bot sent it (progress, then the final message). */
function replyBodies(world: World, interaction: FakeInteraction): any[] {
  return world.discord.requests.filter((r) => r.method === 'PATCH' && r.route.includes(interaction.token) && r.json).map((r) => r.json);
}

const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 5 + i * 3 })), { status: 'finished', progress: 100 }];

const LANGUAGES = [
  { locale: 'zh-CN', assertLanguage: assertChinese, prompt: '黎明时分宁静的湖面' },
  { locale: 'en-US', assertLanguage: assertEnglish, prompt: 'a quiet lake at dawn' },
] as const;

describe('languages: every /pika user reads their own language', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '1' });
  });
  after(async () => {
    await world?.close();
  });

  for (const { locale, assertLanguage, prompt } of LANGUAGES) {
    test(`${locale}: progress, the delivered video, then the daily-limit refusal and /pika quota`, async () => {
      const userId = newUserId();
      world.pika.nextTask({ feed: [{ status: 'queued', progress: 0 }, ...slowFeed(3)], seed: 42, duration: 5 });
      const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt, camera: 'zoom_in' }, userId, locale });
      await waitSettled(interaction);
      const bodies = replyBodies(world, interaction);
      assert.ok(bodies.length >= 2, 'progress and the final message');
      for (const body of bodies) assertLanguage(textOfBody(body), `${locale} reply`);
      assert.equal(interaction.original!.attachments.length, 1, 'the video is attached');
      assertLanguage(textOfBody(interaction.original), `${locale} delivered video`);

      const refused = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt }, userId, locale });
      const refusal = await firstAnswer(refused);
      assert.ok(refused.ephemeral, 'the refusal is ephemeral');
      assert.match(refusal, /<t:\d+:R>/, 'when to try again, as a Discord timestamp');
      assertLanguage(refusal, `${locale} daily-limit refusal`);

      const answer = await firstAnswer(await world.discord.chatInput({ name: 'pika', subcommand: 'quota', userId, locale }));
      assert.match(answer, /<t:\d+:R>/);
      assertLanguage(answer, `${locale} /pika quota`);
    });

    test(`${locale}: an option the checks refuse is explained in the user's language`, async () => {
      const answer = await firstAnswer(
        await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt, model: '3.0' }, userId: newUserId(), locale }),
      );
      assert.match(answer, locale === 'zh-CN' ? /`模型`/ : /`model`/, 'the option as the user’s client names it');
      assertLanguage(answer, `${locale} option refusal`);
    });

    test(`${locale}: effects are suggested under names in the user's language, and sent to Pika as Pika names them`, async () => {
      const typed = locale === 'zh-CN' ? '融' : 'mel';
      const interaction = await world.discord.autocomplete({ name: 'pika', subcommand: 'text', options: { prompt: 'x', pikaffect: typed }, focused: 'pikaffect', locale });
      await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
      const choices = interaction.callbacks[0]!.data.choices as Array<{ name: string; value: string }>;
      const melt = choices.find((c) => c.value === 'Melt');
      assert.equal(melt?.name, locale === 'zh-CN' ? '融化（Melt）' : 'Melt');
    });

    test(`${locale}: a video Pika could not make is explained in the user's language`, async () => {
      world.pika.nextTask({ feed: [{ status: 'pending', progress: 30 }, { status: 'error', error: 'moderation' }] });
      const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt }, userId: newUserId(), locale });
      await waitSettled(interaction);
      const failure = textOfBody(interaction.original);
      assert.match(failure, /❌/);
      assertLanguage(failure, `${locale} failure`);
    });
  }

  test('zh-TW falls back to Simplified Chinese', async () => {
    const answer = await firstAnswer(await world.discord.chatInput({ name: 'pika', subcommand: 'quota', userId: newUserId(), locale: 'zh-TW' }));
    assertChinese(answer, 'zh-TW /pika quota');
  });

  for (const [requester, server, assertLanguage] of [
    ['en-US', 'zh-CN', assertChinese],
    ['zh-CN', 'en-US', assertEnglish],
  ] as const) {
    test(`a video posted in the channel after the token expired speaks the server's language (${server}), not the requester's (${requester})`, async () => {
      const userId = newUserId();
      world.pika.nextTask({ feed: slowFeed(25) });
      const interaction = await world.discord.chatInput({
        name: 'pika',
        subcommand: 'text',
        options: { prompt: '🌊 🌅' },
        userId,
        locale: requester,
        guildLocale: server,
      });
      await interaction.waitFor((i) => (i.original?.edits ?? 0) >= 1, 10_000);
      assert.equal(CJK.test(textOfBody(interaction.original)), requester === 'zh-CN', 'progress is in the requester’s language');
      world.discord.expireToken(interaction);
      const posts = () => world.discord.channelMessages.filter((m) => m.content.includes(`<@${userId}>`));
      await eventually(() => posts().length > 0, 20_000, 'the channel post');
      const [post] = posts();
      assert.equal(post!.attachments.length, 1);
      assertLanguage(textOfBody(post), `channel post in a ${server} server`);
    });
  }
});
