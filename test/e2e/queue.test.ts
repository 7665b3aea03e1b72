import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { admin, MODERATOR_PERMISSIONS, newUserId, quota } from '../support/users.js';
import { eventually, startWorld, waitSettled, type World } from '../support/world.js';

/** A task that stays at the provider for about `steps` polls (40 ms each in tests). */
const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 1 + i })), { status: 'finished', progress: 100 }];
const promptsSent = (world: World) => world.pika.generateCalls.map((call) => (call.body as any).promptText as string);
const ask = (world: World, userId: string, prompt: string) => world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt }, userId });

async function answered(interaction: FakeInteraction): Promise<FakeInteraction> {
  await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
  return interaction;
}

/** The "place in the queue" values a reply was shown, in order. */
function placesShown(world: World, interaction: FakeInteraction): string[] {
  return world.discord.requests
    .filter((r) => r.method === 'PATCH' && r.route.includes(interaction.token))
    .map((r) => r.json?.embeds?.[0]?.fields?.find((f: any) => f.name === 'Place in the queue')?.value)
    .filter((value): value is string => typeof value === 'string');
}

const isQueued = (interaction: FakeInteraction) => /waiting in the queue/.test(interaction.original?.embeds[0]?.title ?? '');

/** One video of `user` at the provider (about `steps` polls long) and a second waiting behind it, at a limit of one. */
async function oneRunningOneWaiting(world: World, user: string, running: string, waiting: string, steps = 15) {
  world.pika.nextTask({ feed: slowFeed(steps) });
  const first = await answered(await ask(world, user, running));
  await eventually(() => promptsSent(world).includes(running), 5000, 'the first to start');
  const second = await answered(await ask(world, user, waiting));
  await second.waitFor(isQueued, 5000);
  return { running: first, waiting: second };
}

describe('the queue: a user at their concurrent-video limit', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_MAX_CONCURRENT: '1', MAX_QUEUED_PER_USER: '2', DEFAULT_DAILY_LIMIT: '10' });
  });
  after(async () => {
    await world?.close();
  });

  test('is queued, shown their place, served in order; past the queue’s size refused ephemerally', async () => {
    const user = newUserId();
    for (let i = 0; i < 3; i++) world.pika.nextTask({ feed: slowFeed(12) });
    const first = await answered(await ask(world, user, 'queue one'));
    await eventually(() => promptsSent(world).includes('queue one'), 5000, 'the first to start');
    const second = await answered(await ask(world, user, 'queue two'));
    const third = await answered(await ask(world, user, 'queue three'));
    await second.waitFor(isQueued, 5000);
    await third.waitFor(isQueued, 5000);
    assert.equal(third.original!.components[0].components[0].label, 'Cancel');
    assert.match(JSON.stringify(third.original!.embeds[0].fields), /<t:\d+:R>/, 'an estimated start');

    const fourth = await answered(await ask(world, user, 'queue four'));
    assert.ok(fourth.ephemeral);
    assert.match(String(fourth.callbacks[0]!.data.content), /2 videos waiting in the queue/);

    for (const interaction of [first, second, third]) await waitSettled(interaction, 20_000);
    assert.deepEqual(promptsSent(world).filter((p) => p.startsWith('queue ')), ['queue one', 'queue two', 'queue three'], 'in the order asked, once each');
    assert.deepEqual(placesShown(world, third).filter((v, i, all) => all.indexOf(v) === i), ['#2', 'next'], 'the place moves up as the queue does');
    for (const interaction of [first, second, third]) assert.equal(interaction.original!.attachments.length, 1);
    assert.match(await quota(world, user), /Today: 7 videos left/, 'three of ten counted');
  });

  test('cancel: only the requester or a moderator; the job never reaches Pika and its allowance comes back', async () => {
    const user = newUserId();
    const { running, waiting } = await oneRunningOneWaiting(world, user, 'cancel running', 'cancel me');
    const before = await quota(world, user);
    assert.match(before, /waiting in the queue/);

    const cancelId = waiting.original!.components[0].components[0].custom_id;
    const stranger = await answered(await world.discord.component({ message: waiting.original!, customId: cancelId, userId: newUserId() }));
    assert.ok(stranger.ephemeral);
    assert.match(String(stranger.callbacks[0]!.data.content), /only the person who asked/i);

    const click = await answered(await world.discord.component({ message: waiting.original!, customId: cancelId, userId: user }));
    assert.equal(click.callbacks[0]!.type, 6);
    await waiting.waitFor((i) => /Cancelled by/.test(i.original?.embeds[0]?.description ?? ''), 5000);
    await waitSettled(running, 20_000);
    assert.ok(!promptsSent(world).includes('cancel me'), 'never sent');
    const usage = await admin(world, 'usage', { user });
    assert.match(usage, /Today \(UTC\): 1 video ·/);
    const late = await answered(await world.discord.component({ message: running.original!, customId: cancelId, userId: user }));
    assert.ok(late.ephemeral);

    const other = newUserId();
    const theirs = await oneRunningOneWaiting(world, other, 'moderated running', 'moderated waiting');
    const moderatorClick = await answered(
      await world.discord.component({ message: theirs.waiting.original!, customId: theirs.waiting.original!.components[0].components[0].custom_id, userId: newUserId(), memberPermissions: MODERATOR_PERMISSIONS }),
    );
    assert.equal(moderatorClick.callbacks[0]!.type, 6, 'a moderator may cancel it');
    await theirs.waiting.waitFor((i) => /Cancelled by/.test(i.original?.embeds[0]?.description ?? ''), 5000);
    await waitSettled(theirs.running, 20_000);
    assert.ok(!promptsSent(world).includes('moderated waiting'));
  });

  test('a queued job is checked again when its turn comes: a banned word added meanwhile stops it, refunded', async () => {
    const user = newUserId();
    const { running, waiting } = await oneRunningOneWaiting(world, user, 'recheck running', 'a zebra in the queue');
    await admin(world, 'words add', { word: 'zebra' });
    try {
      await waitSettled(running, 20_000);
      await waitSettled(waiting, 10_000);
      assert.match(waiting.original!.embeds[0].description, /rules changed/);
      assert.ok(!promptsSent(world).includes('a zebra in the queue'));
      assert.match(await admin(world, 'usage', { user }), /Today \(UTC\): 1 video ·/);
    } finally {
      await admin(world, 'words remove', { word: 'zebra' });
    }
  });

  test('queued jobs survive kill -9: resumed in order, nothing sent twice', async () => {
    const user = newUserId();
    const { running, waiting } = await oneRunningOneWaiting(world, user, 'survive running', 'survive waiting 1', 25);
    const last = await answered(await ask(world, user, 'survive waiting 2'));
    await last.waitFor(isQueued, 5000);
    await world.restartBot('SIGKILL');
    for (const interaction of [running, waiting, last]) {
      await waitSettled(interaction, 20_000);
      assert.equal(interaction.original!.attachments.length, 1);
    }
    assert.deepEqual(promptsSent(world).filter((p) => p.startsWith('survive')), ['survive running', 'survive waiting 1', 'survive waiting 2'], 'in order, each once');
  });
});

describe('the queue: the provider’s limit (PIKA_MAX_CONCURRENT)', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ PIKA_MAX_CONCURRENT: '2', MAX_QUEUED_PER_USER: '3' });
  });
  after(async () => {
    await world?.close();
  });

  test('holds under a burst from many users, and every command is served once', async () => {
    const users = Array.from({ length: 8 }, () => newUserId());
    for (let i = 0; i < users.length; i++) world.pika.nextTask({ feed: slowFeed(5) });
    let most = 0;
    const sampler = setInterval(() => {
      const atProvider = world.pika.taskIds().filter((id) => {
        const task = world.pika.task(id)!;
        return task.step < (task.script.feed?.length ?? 1) - 1;
      }).length;
      most = Math.max(most, atProvider);
    }, 5);
    try {
      const commands = await Promise.all(users.map((user, i) => ask(world, user, `burst ${i}`)));
      for (const interaction of commands) await waitSettled(interaction, 30_000);
      for (const interaction of commands) assert.equal(interaction.original!.attachments.length, 1);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(most <= 2, `at most 2 tasks at the provider at once (saw ${most})`);
    assert.equal(promptsSent(world).filter((p) => p.startsWith('burst ')).length, 8, 'one generate call per command');
  });

  test('is fair between users: one user’s many commands do not starve another’s', async () => {
    const [a, b] = [newUserId(), newUserId()];
    for (let i = 0; i < 6; i++) world.pika.nextTask({ feed: slowFeed(4) });
    const blockers = [await answered(await ask(world, newUserId(), 'fair blocker 1')), await answered(await ask(world, newUserId(), 'fair blocker 2'))];
    await eventually(() => promptsSent(world).includes('fair blocker 2'), 5000, 'the provider to be full');
    const mine = [];
    for (const prompt of ['fair a1', 'fair a2', 'fair a3']) mine.push(await answered(await ask(world, a, prompt)));
    const theirs = await answered(await ask(world, b, 'fair b1'));
    for (const interaction of [...blockers, ...mine, theirs]) await waitSettled(interaction, 30_000);
    const order = promptsSent(world).filter((p) => /^fair [ab]\d/.test(p));
    assert.deepEqual(order, ['fair a1', 'fair b1', 'fair a2', 'fair a3']);
  });
});

describe('the queue and the 15 minutes of an interaction token', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ PIKA_MAX_CONCURRENT: '1' });
  });
  after(async () => {
    await world?.close();
  });

  /** Takes the provider's one slot with a video of `steps` progress reports, so the next command waits. */
  async function fillProvider(prompt: string, steps: number): Promise<FakeInteraction> {
    world.pika.nextTask({ feed: slowFeed(steps) });
    const blocker = await answered(await ask(world, newUserId(), prompt));
    await eventually(() => promptsSent(world).includes(prompt), 5000, 'the provider to be full');
    return blocker;
  }

  test('where only the interaction can answer, a job is not left waiting past its token: the user is told, nothing is spent', async () => {
    const blocker = await fillProvider('token blocker', 200);
    const user = newUserId();
    // In a server without the bot, made 11 minutes ago: 4 minutes of token left, too few for a video.
    const late = await answered(
      await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: 'too late to wait' }, userId: user, installation: 'user', createdAgoMs: 11 * 60_000 }),
    );
    assert.equal(late.callbacks[0]!.type, 5);
    await late.waitFor((i) => /waited in the queue for too long/.test(i.original?.embeds[0]?.description ?? ''), 10_000);
    assert.ok(!promptsSent(world).includes('too late to wait'), 'never sent');
    const left = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'quota', userId: user, guildId: null, installation: 'user' }));
    assert.match(String(left.callbacks[0]!.data.content), /Today: 3 videos left/, 'its allowance came back');
    await waitSettled(blocker, 20_000);
  });

  test('where the bot can post in the channel, a job whose token runs out while it waits is still made and posted there', async () => {
    const blocker = await fillProvider('channel blocker', 20);
    const user = newUserId();
    const late = await answered(
      await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: 'posted in the channel' }, userId: user, createdAgoMs: 14 * 60_000 + 40_000 }),
    );
    await waitSettled(blocker, 20_000);
    await eventually(() => world.discord.channelMessages.some((m) => m.content.includes(`<@${user}>`) && m.attachments.length === 1), 20_000, 'the video in the channel');
    assert.equal(promptsSent(world).filter((p) => p === 'posted in the channel').length, 1);
    assert.equal(late.original!.attachments.length, 0, 'not on the reply, whose token is gone');
  });
});
