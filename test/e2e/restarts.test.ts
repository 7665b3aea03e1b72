import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { askForVideo, newUserId, quota } from '../support/users.js';
import { eventually, eventuallyAsync, describeOnEachStore, startWorld, waitSettled, type World } from '../support/world.js';

const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 1 + i * 2 })), { status: 'finished', progress: 100 }];

/** Every task settled exactly once across all bot processes of the world, by task id. */
function settlements(world: World): Map<string, string[]> {
  const byTask = new Map<string, string[]>();
  for (const entry of world.bots.flatMap((bot) => bot.entries)) {
    if (entry.msg !== 'job settled') continue;
    const list = byTask.get(String(entry.job)) ?? [];
    list.push(String(entry.outcome));
    byTask.set(String(entry.job), list);
  }
  return byTask;
}

describeOnEachStore('restarts lose nothing and charge nothing twice', (store) => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '2', POLL_INTERVAL_MS: '60' }, {}, store);
  });
  after(async () => {
    await world?.close();
  });

  async function startTasks(count: number, steps: number): Promise<Array<{ user: string; interaction: FakeInteraction }>> {
    for (let i = 0; i < count; i++) world.pika.nextTask({ feed: slowFeed(steps) });
    const generatesBefore = world.pika.generateCalls.length;
    const feedsBefore = world.pika.feedCalls.length;
    const users = Array.from({ length: count }, () => newUserId());
    const started = await Promise.all(users.map(async (user) => ({ user, interaction: await askForVideo(world, user, `in flight ${user}`) })));
    await eventually(() => world.pika.generateCalls.length === generatesBefore + count, 10_000, 'every generate call');
    await eventually(() => world.pika.feedCalls.length >= feedsBefore + count * 2, 10_000, 'every task to be polled');
    return started;
  }

  test('kill -9 with 20 tasks in flight: after a restart 20 of 20 videos arrive, with no extra generate call', async () => {
    const generatesBefore = world.pika.generateCalls.length;
    const tasks = await startTasks(20, 40);
    await world.restartBot('SIGKILL');
    await Promise.all(tasks.map(({ interaction }) => waitSettled(interaction, 30_000)));
    for (const { interaction } of tasks) {
      assert.match(interaction.original!.embeds[0].title, /done/);
      assert.equal(interaction.original!.attachments.length, 1);
    }
    assert.equal(world.pika.generateCalls.length - generatesBefore, 20, 'no generate call was repeated');
    // Each reservation settled exactly once, as delivered: one of the two daily videos used.
    await eventuallyAsync(async () => (await Promise.all(tasks.map(({ user }) => quota(world, user)))).every((q) => /Today: 1 video left[\s\S]*In progress: 0/.test(q)), 10_000, 'every allowance settled');
    const deliveredOnce = () => [...settlements(world).values()].filter((o) => o.length === 1 && o[0] === 'delivered').length;
    await eventually(() => deliveredOnce() === 20, 5000, '20 settlements in the logs');
    assert.ok([...settlements(world).values()].every((o) => o.length === 1), 'no task settled twice');
  });

  test('SIGTERM during a generate call: shutdown waits for it, so the paid task is resumed, not lost', async () => {
    const user = newUserId();
    world.pika.nextTask({ generateDelayMs: 1500, feed: slowFeed(5) });
    const before = world.pika.generateCalls.length;
    const interaction = await askForVideo(world, user, 'slow start');
    await eventually(() => world.pika.generateCalls.length > before, 10_000, 'the generate call');
    assert.equal(await world.bot.stop('SIGTERM'), 0);
    await world.restartBot();
    await waitSettled(interaction, 20_000);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(world.pika.generateCalls.length, before + 1);
    assert.equal(world.bot.entries.find((e) => e.msg === 'resumed after restart')?.interrupted, 0);
  });

  test('SIGINT (Ctrl-C) stops the bot cleanly too', async () => {
    const code = await world.bot.stop('SIGINT');
    assert.equal(code, 0);
    assert.ok(world.bot.lines.some((l) => l.includes('"signal":"SIGINT"')));
    await world.restartBot();
  });

  test('SIGTERM: exits 0 within 10 s, and the tasks resume on the next start', async () => {
    const tasks = await startTasks(5, 40);
    const started = Date.now();
    const code = await world.bot.stop('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 10_000, 'stopped within 10 s');
    assert.ok(world.bot.lines.some((l) => l.includes('"msg":"stopped"')));
    await world.restartBot();
    await Promise.all(tasks.map(({ interaction }) => waitSettled(interaction, 30_000)));
    assert.ok(tasks.every(({ interaction }) => interaction.original!.attachments.length === 1));
    const resumed = world.bot.entries.find((e) => e.msg === 'resumed after restart');
    if (store === 'sqlite') assert.equal(resumed?.resumed, 5);
    else {
      // The stopping process handed its jobs back to the shared pipeline, and the next one took them from there, still running.
      const taken = world.bot.entries.filter((e) => e.msg === 'took a job from the pipeline' && e.state === 'running');
      assert.equal(taken.length, 5);
    }
  });
});
