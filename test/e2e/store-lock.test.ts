import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import type { FeedStep } from '../fakes/pika.js';
import { BotProcess } from '../support/bot-process.js';
import { redisMissing } from '../support/redis.js';
import { askForVideo, newUserId, quota } from '../support/users.js';
import { eventually, eventuallyAsync, startWorld, waitSettled, type World } from '../support/world.js';

/** Far more than a bot needs to start and give up on a store that is taken (about a second). */
const REFUSAL_DEADLINE_MS = 10_000;

describe('one bot process per SQLite store', () => {
  let world: World;
  let storePath: string;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '2' });
    storePath = world.env.STORE_URL!.replace('sqlite://', '');
  });
  after(async () => {
    await world?.close();
  });

  /** `npm start` again with the world's environment; the world kills it and scans its logs on close. */
  function startAnotherBot(): BotProcess {
    const bot = BotProcess.start(world.env);
    world.bots.push(bot);
    return bot;
  }

  async function expectRefused(bot: BotProcess, holderPid: number): Promise<void> {
    const exited = bot.waitForExit();
    const deadline = new Promise((_, reject) => setTimeout(() => reject(new Error(`still running after ${REFUSAL_DEADLINE_MS} ms:\n${bot.lines.join('\n')}`)), REFUSAL_DEADLINE_MS).unref());
    const code = await Promise.race([exited, deadline]);
    assert.notEqual(code, 0);
    assert.equal(bot.lines.length, 1, bot.lines.join('\n'));
    const line = bot.lines[0]!;
    assert.match(line, /"level":"error"/);
    assert.ok(line.includes(`could not start: the store at ${storePath} is in use by process ${holderPid} on host `), line);
    assert.match(line, /\(since \d{4}-\d\d-\d\dT[\d:.]+Z\); stop it or point STORE_URL elsewhere/);
  }

  /** Every usage record, read straight from the SQLite file. */
  async function usageRecords(): Promise<Array<[string, unknown]>> {
    const usage = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${storePath}` }), namespace: 'usage' });
    try {
      const records: Array<[string, unknown]> = [];
      for await (const [key, value] of usage.iterator!(undefined)) records.push([String(key), value]);
      return records.sort(([a], [b]) => a.localeCompare(b));
    } finally {
      await usage.disconnect();
    }
  }

  test('a second start exits at once naming the holder, and touches neither its tasks, its quotas nor its users', async () => {
    // The video stays pending until the test appends its last step (the fake repeats the last one).
    const held: FeedStep[] = [{ status: 'pending', progress: 20 }];
    world.pika.nextTask({ feed: held });
    const user = newUserId();
    const interaction = await askForVideo(world, user, 'made while another bot starts');
    await eventually(() => world.pika.feedCalls.length >= 2, 10_000, 'the video to be polled');
    assert.match(await quota(world, user), /In progress: 1/);
    const usageBefore = await usageRecords();
    const generatesBefore = world.pika.generateCalls.length;
    const identifiesBefore = world.discord.identifies;

    await expectRefused(startAnotherBot(), world.bot.pid!);

    assert.deepEqual(await usageRecords(), usageBefore, 'no reservation refunded or taken');
    assert.equal(world.pika.generateCalls.length, generatesBefore, 'no generate call');
    assert.equal(world.discord.identifies, identifiesBefore, 'it never logged in');
    assert.ok(world.bot.running);

    held.push({ status: 'finished', progress: 100, poster: true });
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 1);
    await eventuallyAsync(async () => /Today: 1 video left[\s\S]*In progress: 0/.test(await quota(world, user)), 5000, 'the video to count once');
    const told = world.discord.requests.filter((r) => /restart|not charged/i.test(JSON.stringify(r.json ?? '')));
    assert.deepEqual(told, [], 'nobody was told of a restart');
    assert.equal(world.pika.generateCalls.length, generatesBefore);
  });

  test('the first bot keeps serving', async () => {
    const interaction = await askForVideo(world, newUserId(), 'still here');
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
  });

  test('after kill -9 of the holder the next start takes the store over, serves, and is the holder named', async () => {
    await world.restartBot('SIGKILL');
    const interaction = await askForVideo(world, newUserId(), 'after the crash');
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
    await expectRefused(startAnotherBot(), world.bot.pid!);
  });

  test('after SIGTERM the next start gets the store', async () => {
    assert.equal(await world.bot.stop('SIGTERM'), 0);
    await world.restartBot();
    const interaction = await askForVideo(world, newUserId(), 'after a clean stop');
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
  });
});

describe('several bot processes on one Redis store', { skip: redisMissing() }, () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '2' }, {}, 'redis');
  });
  after(async () => {
    await world?.close();
  });

  test('a second start opens the same store and serves, and the first keeps running; they share quotas', async () => {
    const user = newUserId();
    const first = await askForVideo(world, user, 'made by the first process');
    await waitSettled(first);
    assert.match(first.original!.embeds[0].title, /done/);

    const second = BotProcess.start(world.env);
    world.bots.push(second);
    await second.waitForLog(/slash commands checked/, 30_000);
    assert.ok(world.bot.running, 'the first process is still up');
    assert.ok(second.running);
    const refusals = second.lines.filter((line) => /in use by|could not start/.test(line));
    assert.deepEqual(refusals, []);

    // The fake gateway now sends commands to the second process's session.
    const identifies = world.discord.identifies;
    const next = await askForVideo(world, user, 'made with two processes up');
    await waitSettled(next);
    assert.match(next.original!.embeds[0].title, /done/);
    assert.equal(world.discord.identifies, identifies);
    await eventuallyAsync(async () => /Today: 0 videos left/.test(await quota(world, user)), 5000, 'both videos to count against one allowance');
  });
});
