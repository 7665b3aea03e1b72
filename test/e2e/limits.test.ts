import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_MEMBER_PERMISSIONS } from '../fakes/discord.js';
import type { PikaFault, TaskScript } from '../fakes/pika.js';
import { nextIsoWeekStart, nextUtcMidnight } from '../../src/usage/limits.js';
import { admin, askForVideo, firstAnswer, newUserId, quota, videoFor } from '../support/users.js';
import { eventuallyAsync, describeOnEachStore, startWorld, waitSettled, type World } from '../support/world.js';

const OWNER = '300000000000000001';
const seconds = (ms: number) => Math.ceil(ms / 1000);

describeOnEachStore('usage limits, end to end', (store) => {
  let world: World;

  before(async () => {
    world = await startWorld({
      OWNER_IDS: OWNER,
      PIKA_GENERATE_TIMEOUT_MS: '700',
      TASK_TIMEOUT_MS: '2500',
      DEFAULT_DAILY_LIMIT: '5',
      DEFAULT_WEEKLY_LIMIT: '20',
      DEFAULT_COOLDOWN_SECONDS: '0',
      // These tests are about refusals at the concurrent-video limit; test/e2e/queue.test.ts is about waiting.
      MAX_QUEUED_PER_USER: '0',
      DEFAULT_MAX_CONCURRENT: 'unlimited',
    }, {}, store);
  });
  after(async () => {
    await world?.close();
  });

  test('/pika-admin is registered for Manage Server and checked again at run time', async () => {
    const registered = world.discord.registeredCommands(world.discord.guildId).find((c: any) => c.name === 'pika-admin');
    assert.equal(registered.default_member_permissions, '32');
    const interaction = await world.discord.chatInput({ name: 'pika-admin', subcommand: 'show', memberPermissions: DEFAULT_MEMBER_PERMISSIONS });
    assert.match(await firstAnswer(interaction), /Only members with the \*\*Manage Server\*\* permission/);
    assert.equal(interaction.ephemeral, true);
  });

  test('/pika-admin show prints the whole configuration, exactly', async () => {
    assert.equal(
      await admin(world, 'show'),
      [
        '**Pika settings for this server**',
        '__Limits__',
        'Videos per user per day: 5 (default)',
        'Videos per user per week: 20 (default)',
        'Cooldown between a user’s videos: none (default)',
        'Videos in progress per user: unlimited (default)',
        'Videos per day for the whole server: unlimited (default)',
        'All servers together (set by the operator): no daily cap',
        '__Roles__',
        'no role rules',
        'Required role: none (everyone may use the bot)',
        '__Blocked users__',
        'nobody',
        '__Banned words__ (0; see `/pika-admin words list`)',
        '__Channels__: every channel',
        '__Audit log__: off',
      ].join('\n'),
    );
  });

  test('/pika quota shows what is left and when it resets, exactly', async () => {
    const user = newUserId();
    await videoFor(world, user);
    // The reservation settles a moment after the video shows (the job's end is stored first).
    await eventuallyAsync(async () => (await quota(world, user)).includes('In progress: 0'), 5000, 'the video to be settled');
    const now = Date.now();
    assert.equal(
      await quota(world, user),
      [
        '**Your Pika allowance in this server**',
        `Today: 4 videos left · resets <t:${seconds(nextUtcMidnight(now))}:R>`,
        `This week: 19 videos left · resets <t:${seconds(nextIsoWeekStart(now))}:R>`,
        'Cooldown: ready now',
        'In progress: 0',
      ].join('\n'),
    );
  });

  test('100 simultaneous commands from one user with an allowance of 5 make exactly 5 generate calls', async () => {
    const user = newUserId();
    const before = world.pika.generateCalls.length;
    const interactions = await Promise.all(Array.from({ length: 100 }, (_, i) => askForVideo(world, user, `race ${i}`)));
    const answers = await Promise.all(interactions.map(firstAnswer));
    const accepted = interactions.filter((i) => i.callbacks[0]!.type === 5);
    const refused = interactions.filter((i) => i.ephemeral);
    assert.equal(accepted.length, 5);
    assert.equal(refused.length, 95);
    assert.ok(answers.filter(Boolean).every((a) => /used all 5 videos of your daily allowance/.test(a)));
    await Promise.all(accepted.map((i) => waitSettled(i)));
    assert.equal(world.pika.generateCalls.length - before, 5);
    assert.match(await quota(world, user), /Today: 0 videos left/);
  });

  test('the server cap holds under a burst from many users', async () => {
    await admin(world, 'limits', { server_daily: 3, daily: -1 });
    const before = world.pika.generateCalls.length;
    // Earlier tests already used some of today's server videos: count from what is left.
    const usedToday = Number(/Today \(UTC\): (\d+)/.exec(await admin(world, 'usage'))![1]);
    await admin(world, 'limits', { server_daily: usedToday + 3 });
    const interactions = await Promise.all(Array.from({ length: 100 }, () => askForVideo(world, newUserId())));
    const answers = await Promise.all(interactions.map(firstAnswer));
    const accepted = interactions.filter((i) => i.callbacks[0]!.type === 5);
    assert.equal(accepted.length, 3);
    assert.equal(answers.filter((a) => /This server has reached its limit of \d+ videos for today/.test(a)).length, 97);
    await Promise.all(accepted.map((i) => waitSettled(i)));
    assert.equal(world.pika.generateCalls.length - before, 3);
    await admin(world, 'limits', { reset: true });
  });

  test('cooldown and concurrency refusals say when to try again, with no call upstream', async () => {
    await admin(world, 'limits', { cooldown: 600, concurrent: 1 });
    const user = newUserId();
    world.pika.nextTask({ feed: [{ status: 'pending', progress: 10 }, { status: 'pending', progress: 20 }, { status: 'pending', progress: 30 }, { status: 'finished', progress: 100 }] });
    const before = world.pika.generateCalls.length + 1;
    const running = await askForVideo(world, user);
    await firstAnswer(running);
    assert.match(await firstAnswer(await askForVideo(world, user)), /already have 1 video in progress/);
    await waitSettled(running);
    await eventuallyAsync(async () => /In progress: 0/.test(await quota(world, user)), 5000, 'the video to be settled');
    const answer = await firstAnswer(await askForVideo(world, user));
    assert.match(answer, /Please wait a moment between videos: you can start your next one <t:\d+:R>/);
    const retryAt = Number(/<t:(\d+):R>/.exec(answer)![1]);
    assert.ok(Math.abs(retryAt - (Date.now() / 1000 + 600)) < 10, 'retry time is the end of the cooldown');
    assert.equal(world.pika.generateCalls.length, before);
    await admin(world, 'limits', { reset: true });
  });

  test('a refused video is refunded for every failure class', async () => {
    await admin(world, 'limits', { daily: 1 });
    const user = newUserId();
    const failures: Array<[string, () => void]> = [
      ['generate 500', () => world.pika.failNextGenerate({ kind: 'status', status: 500 } satisfies PikaFault)],
      ['generate 400 rejected', () => world.pika.failNextGenerate({ kind: 'status', status: 400, body: { error: { message: 'nope' } } })],
      ['generate timeout', () => world.pika.failNextGenerate({ kind: 'hang' })],
      ['generate 200 without id', () => world.pika.failNextGenerate({ kind: 'no-id' })],
      ['task error', () => world.pika.nextTask({ feed: [{ status: 'error', error: 'moderation' }] } satisfies TaskScript)],
      ['task timeout', () => world.pika.nextTask({ feed: [{ status: 'pending', progress: 1 }] })],
      ['result not an mp4', () => world.pika.nextTask({ video: Buffer.from('nope'), videoContentType: 'text/plain' })],
    ];
    for (const [name, inject] of failures) {
      inject();
      const interaction = await videoFor(world, user, name);
      assert.equal(interaction.callbacks[0]!.type, 5, `${name}: accepted`);
      assert.match(interaction.original!.embeds[0].title, /failed/, `${name}: failed`);
      assert.match(await quota(world, user), /Today: 1 video left/, `${name}: refunded`);
    }
    const delivered = await videoFor(world, user, 'finally');
    assert.match(delivered.original!.embeds[0].title, /done/);
    assert.match(await quota(world, user), /Today: 0 videos left/);
    assert.match(await firstAnswer(await askForVideo(world, user)), /used all 1 video of your daily allowance/);
    await admin(world, 'limits', { reset: true });
  });

  test('owners bypass every limit', async () => {
    await admin(world, 'limits', { daily: 0, server_daily: 0 });
    const refused = await firstAnswer(await askForVideo(world, newUserId()));
    assert.match(refused, /Making videos is switched off here for now/);
    const owner = await videoFor(world, OWNER);
    assert.match(owner.original!.embeds[0].title, /done/);
    assert.match(await quota(world, OWNER), /no limits apply to you/);
    await admin(world, 'limits', { reset: true });
  });

  test('limits, usage and settings survive a restart', async () => {
    await admin(world, 'limits', { daily: 3, weekly: 7, cooldown: 0, concurrent: 2, server_daily: 500 });
    const user = newUserId();
    await videoFor(world, user);
    const settingsBefore = await admin(world, 'show');
    const usageBefore = await admin(world, 'usage');
    await world.restartBot();
    assert.equal(await admin(world, 'show'), settingsBefore);
    assert.equal(await admin(world, 'usage'), usageBefore);
    assert.match(await quota(world, user), /Today: 2 videos left[^\n]*\nThis week: 6 videos left/);
    assert.match(settingsBefore, /Videos per user per day: 3\n/);
    assert.match(usageBefore, new RegExp(`<@${user}>: 1`));
    await admin(world, 'limits', { reset: true });
  });
});
