import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PermissionFlagsBits } from 'discord.js';
import { DEFAULT_APP_PERMISSIONS } from '../fakes/discord.js';
import { askForVideo, firstAnswer, newUserId, quota } from '../support/users.js';
import { eventually, eventuallyAsync, everythingTheBotSaid, fixture, startWorld, waitSettled, type World } from '../support/world.js';

/** A feed that keeps the task running long enough to break something in the middle. */
const slowFeed = (steps = 25) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 2 + i * 3, poster: i > 2 })), { status: 'finished', progress: 100, poster: true }];

describe('Discord faults: the paid video still reaches its user, once', () => {
  let world: World;
  let tinyMp4: Buffer;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '5' });
    tinyMp4 = await fixture('tiny.mp4');
  });
  after(async () => {
    await world?.close();
  });

  /** Starts a slow task and waits until it is being polled. */
  async function runningTask(user = newUserId()) {
    world.pika.nextTask({ feed: slowFeed() });
    const before = world.pika.feedCalls.length;
    const interaction = await askForVideo(world, user, `through the storm ${user}`);
    await eventually(() => world.pika.feedCalls.length >= before + 2, 10_000, 'polling');
    return { interaction, user };
  }

  const channelPostsFor = (user: string) => world.discord.channelMessages.filter((m) => m.content.includes(`<@${user}>`));

  /** The user's video cost one generate call and exactly one video of their allowance. */
  async function chargedOnce(user: string): Promise<void> {
    assert.equal(world.pika.generateCalls.filter((c) => (c.body as { promptText?: string }).promptText === `through the storm ${user}`).length, 1);
    await eventuallyAsync(async () => /Today: 4 videos left[\s\S]*In progress: 0/.test(await quota(world, user)), 5000, 'one video counted, none running');
  }

  test('expired interaction token: the video is posted in the channel, replying to the original and pinging only the requester', async () => {
    const { interaction, user } = await runningTask();
    await interaction.waitFor((i) => (i.original?.edits ?? 0) >= 1, 5000);
    world.discord.expireToken(interaction);
    await eventually(() => channelPostsFor(user).length > 0, 15_000, 'the channel fallback');
    const [post, ...others] = channelPostsFor(user);
    assert.equal(others.length, 0, 'posted once');
    assert.equal(post!.attachments.length, 1);
    assert.ok(post!.attachments[0]!.data.equals(tinyMp4));
    assert.equal(post!.message_reference?.message_id, interaction.original!.id);
    assert.deepEqual(post!.allowed_mentions, { parse: [], users: [user], replied_user: false });
    assert.match(post!.embeds[0].title, /done/);
    await chargedOnce(user);
  });

  test('deleted reply (Unknown Message): delivered in the channel all the same', async () => {
    const { interaction, user } = await runningTask();
    await interaction.waitFor((i) => (i.original?.edits ?? 0) >= 1, 5000);
    world.discord.deleteOriginal(interaction);
    await eventually(() => channelPostsFor(user).length > 0, 15_000, 'the channel fallback');
    const [post] = channelPostsFor(user);
    assert.equal(post!.attachments.length, 1);
    const sent = world.discord.requests.find((r) => r.method === 'POST' && r.route.endsWith('/messages') && r.json?.content?.includes(`<@${user}>`));
    assert.deepEqual(sent!.json.message_reference, { message_id: interaction.original!.id, fail_if_not_exists: false }, 'replying to a message that is gone');
    await chargedOnce(user);
  });

  test('a 429 storm on the reply: progress is dropped or delayed, the video is not', async () => {
    const { interaction, user } = await runningTask();
    world.discord.rateLimitNext({ method: 'PATCH', route: /\/messages\/@original/ }, 0.05, 12);
    await waitSettled(interaction, 20_000);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 1);
    const limited = world.discord.requests.filter((r) => r.status === 429 && r.route.includes(interaction.token));
    assert.ok(limited.length > 0, 'the storm happened');
    await chargedOnce(user);
  });

  test('Discord 5xx on the final upload: retried until it lands, exactly once', async () => {
    const { interaction, user } = await runningTask();
    await eventually(() => world.pika.task(world.pika.taskIds().at(-1)!)!.step >= 20, 15_000, 'the task to near its end');
    world.discord.failNext({ method: 'PATCH', route: /\/messages\/@original/ }, { status: 502, body: { message: 'Bad Gateway', code: 0 } }, 6);
    await waitSettled(interaction, 30_000);
    assert.equal(interaction.original!.attachments.length, 1);
    const failures = world.discord.requests.filter((r) => r.status === 502 && r.route.includes(interaction.token));
    assert.equal(failures.length, 6, 'all six injected failures were met');
    await chargedOnce(user);
  });

  test('gateway closed mid-task: the bot reconnects, the task finishes, new commands work', async () => {
    const { interaction, user } = await runningTask();
    const identifiesBefore = world.discord.identifies + world.discord.resumes;
    world.discord.disconnectGateway(4000);
    await waitSettled(interaction, 20_000);
    assert.match(interaction.original!.embeds[0].title, /done/);
    await chargedOnce(user);
    await eventually(() => world.discord.identifies + world.discord.resumes > identifiesBefore, 15_000, 'a reconnect');
    const after = await askForVideo(world, newUserId(), 'after the reconnect');
    await waitSettled(after, 15_000);
    assert.match(after.original!.embeds[0].title, /done/);
  });

  test('without the permissions the channel fallback needs, the task still runs and the log says so', async () => {
    const noHistory = DEFAULT_APP_PERMISSIONS & ~PermissionFlagsBits.ReadMessageHistory & ~PermissionFlagsBits.SendMessages;
    const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: 'quiet channel' }, appPermissions: noHistory });
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
    const warning = world.bot.entries.find((e) => String(e.msg).includes('posting the video in the channel instead would fail'));
    assert.ok(warning, 'a warning was logged');
    assert.deepEqual(warning!.missing, ['Send Messages', 'Read Message History']);
  });

  test('without Embed Links the command is refused up front, naming what to grant', async () => {
    const before = world.pika.generateCalls.length;
    const noEmbeds = DEFAULT_APP_PERMISSIONS & ~PermissionFlagsBits.EmbedLinks;
    const answer = await firstAnswer(await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: 'x' }, appPermissions: noEmbeds }));
    assert.match(answer, /missing the \*\*Embed Links\*\* permission/);
    assert.equal(world.pika.generateCalls.length, before);
  });

  test('no secret in any log line or Discord message, interaction tokens included', () => {
    const said = everythingTheBotSaid(world);
    assert.ok(!said.includes(world.secrets.botToken));
    assert.ok(!said.includes(world.secrets.apiKey));
    const logs = world.bots.flatMap((bot) => bot.lines).join('\n');
    for (const interaction of world.discord.interactions) assert.ok(!logs.includes(interaction.token), 'an interaction token was logged');
  });
});
