import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { askForVideo, newUserId, quota } from '../support/users.js';
import { eventuallyAsync, everythingTheBotSaid, startWorld, waitSettled, type World } from '../support/world.js';

/**
 * What a careless or hostile upstream might write in an error or a status: our own API key,
 * whole and masked down to its tail, a masked link, bidi controls that reverse what follows, and
 * mentions. Words around them are harmless and must still be shown.
 */
function hostileText(world: World): string {
  const { apiKey } = world.secrets;
  return [
    `Task rejected for key ${apiKey} (sk-****${apiKey.slice(-8)}, …${apiKey.slice(-6)})`,
    '<@123456789012345678> @everyone \u202Eexe.txt\u202C \u2066x\u2069',
    'see [the policy](https://evil.example/x)',
  ].join(' ');
}

/** Every string in the bodies the bot sent to Discord since `from` (request index). */
function textsSentToDiscord(world: World, from: number): string[] {
  const texts: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') texts.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  for (const request of world.discord.requests.slice(from)) collect(request.json);
  return texts;
}

/** The text a user sees on the reply: content, and every string in its embeds. */
function replyText(interaction: FakeInteraction): string {
  const { content = '', embeds = [] } = interaction.original ?? {};
  return [content, JSON.stringify(embeds)].join('\n');
}

function assertShownSafely(world: World, from: number): void {
  const { apiKey, botToken } = world.secrets;
  const shown = textsSentToDiscord(world, from);
  assert.ok(shown.length > 0, 'the bot wrote to Discord');
  for (const text of shown) {
    for (const secret of [apiKey, botToken]) {
      assert.ok(!text.includes(secret.slice(-6)), `a secret's tail reached Discord: ${JSON.stringify(text)}`);
    }
    assert.ok(!/\]\(\s*<?https?:\/\/evil\.example/.test(text), `a live masked link reached Discord: ${JSON.stringify(text)}`);
    assert.ok(!/(?<!\\)\[the policy(?<!\\)\]/.test(text), `unescaped link text reached Discord: ${JSON.stringify(text)}`);
    assert.ok(!/[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/.test(text), `a bidi control reached Discord: ${JSON.stringify(text)}`);
    assert.ok(!/(?<!\\)@everyone/.test(text) && !text.includes('<@123456789012345678>'), `a live mention reached Discord: ${JSON.stringify(text)}`);
  }
  // Nor anywhere else: logs and requests go through the same redactor.
  const said = everythingTheBotSaid(world);
  assert.ok(!said.includes(apiKey.slice(-6)), 'a tail of the API key is in the logs or a request');
  assert.ok(!said.includes(botToken.slice(-6)), 'a tail of the bot token is in the logs or a request');
}

describe('upstream text that reaches the channel', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '5' });
  });

  /** What the user was charged: `left` videos of their 5 today, none still running. */
  const allowanceLeft = (user: string, left: number) =>
    eventuallyAsync(async () => new RegExp(`Today: ${left} videos left[\\s\\S]*In progress: 0`).test(await quota(world, user)), 5000, `${left} videos left`);
  after(async () => {
    await world?.close();
  });

  test("the feed's error: shown without the key, live links, bidi controls or mentions", async () => {
    world.pika.nextTask({ feed: ['empty', { status: 'pending', progress: 20 }, { status: 'error', error: hostileText(world) }] });
    const from = world.discord.requests.length;
    const user = newUserId();
    const interaction = await askForVideo(world, user, 'a lighthouse in a storm');
    await waitSettled(interaction);
    const shown = replyText(interaction);
    assert.match(shown, /failed/i);
    assert.match(shown, /Task rejected for key/, 'the harmless words are shown');
    assert.match(shown, /the policy/);
    assertShownSafely(world, from);
    await allowanceLeft(user, 5);
  });

  test('a generate error message: the same', async () => {
    world.pika.failNextGenerate({ kind: 'status', status: 400, body: { error: { message: hostileText(world) } } });
    const from = world.discord.requests.length;
    const user = newUserId();
    const interaction = await askForVideo(world, user, 'a fox in the snow');
    await waitSettled(interaction);
    const shown = replyText(interaction);
    assert.match(shown, /Task rejected for key/, 'the harmless words are shown');
    assert.match(shown, /the policy/);
    assertShownSafely(world, from);
    await allowanceLeft(user, 5);
    assert.equal(world.pika.generateCalls.filter((c) => (c.body as { promptText?: string }).promptText === 'a fox in the snow').length, 1);
  });

  test("an unknown feed status shown in the progress: the same, and the video still arrives", async () => {
    const status = `[the policy](https://evil.example/phish) \u202Eroll @everyone ${world.secrets.apiKey}`;
    world.pika.nextTask({ feed: ['empty', ...Array.from({ length: 6 }, () => ({ status, progress: 30 })), { status: 'finished', progress: 100 }] });
    const from = world.discord.requests.length;
    const user = newUserId();
    const interaction = await askForVideo(world, user, 'a kite over dunes');
    await waitSettled(interaction);
    assert.match(String(interaction.original?.embeds[0]?.title), /done/);
    assert.ok(textsSentToDiscord(world, from).some((text) => text.includes('the policy')), 'the status was shown while the video was made');
    assertShownSafely(world, from);
    await allowanceLeft(user, 4);
  });
});
