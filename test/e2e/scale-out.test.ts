import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { shardFor, snowflakeOnShard, type ChatInputOptions, type FakeInteraction } from '../fakes/discord.js';
import type { BotProcess } from '../support/bot-process.js';
import { redisMissing } from '../support/redis.js';
import { admin, askForVideo, firstAnswer, MODERATOR_PERMISSIONS, newUserId, quota } from '../support/users.js';
import { eventually, startWorld, waitSettled, type World } from '../support/world.js';

/** A feed that reports progress `steps` times before the video is ready. */
const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'processing', progress: Math.round((i / steps) * 100) })), { status: 'finished' }];

/** Which of `bots` claimed the interaction (logged at debug level by each process's router). */
function answeredBy(bots: BotProcess[], interaction: FakeInteraction): BotProcess[] {
  return bots.filter((bot) => bot.entries.some((entry) => entry.msg === 'answering an interaction' && entry.interaction === interaction.id));
}

/** The one process that claimed the interaction, once its log line has come through (it may trail Discord's answer). */
async function ownerOf(bots: BotProcess[], interaction: FakeInteraction): Promise<BotProcess> {
  await eventually(() => answeredBy(bots, interaction).length > 0, 5000, `the log of who answered ${interaction.id}`);
  const [owner, ...others] = answeredBy(bots, interaction);
  assert.equal(others.length, 0, 'claimed by one process only');
  return owner!;
}

/** A `/pika text` for each of `places` at once; resolves when all are answered. */
async function burst(world: World, places: Array<Partial<ChatInputOptions> & { userId: string }>, prompt: string): Promise<FakeInteraction[]> {
  const interactions = await Promise.all(places.map((place, i) => world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: `${prompt} ${i}` }, ...place })));
  await Promise.all(interactions.map((interaction) => interaction.waitFor((i) => i.callbacks.length > 0, 15_000)));
  return interactions;
}

describe('two gateway processes on one Redis', { skip: redisMissing() }, () => {
  let world: World;
  let bots: BotProcess[];
  // Three shards: the server's, run by both processes (as in a rolling deploy), and one run by each alone.
  let shared: number;
  let firstOnly: number;
  let secondOnly: number;

  before(async () => {
    world = await startWorld(
      { DEFAULT_DAILY_LIMIT: 'unlimited', DEFAULT_MAX_CONCURRENT: 'unlimited', MAX_QUEUED_PER_USER: '0', USER_INSTALL_DAILY_LIMIT: '5', USER_INSTALL_WEEKLY_LIMIT: 'unlimited', GLOBAL_DAILY_CAP: '15' },
      { recommendedShards: 3 },
      'redis',
    );
    shared = shardFor(world.discord.guildId, 3);
    [firstOnly, secondOnly] = [(shared + 1) % 3, (shared + 2) % 3];
    // The world's first process runs every shard Discord recommends (SHARD_COUNT=auto); it is restarted on two of them.
    await world.bot.stop();
    const first = await world.startProcess({ SHARD_IDS: `${shared},${firstOnly}` });
    const second = await world.startProcess({ SHARD_IDS: `${shared},${secondOnly}` });
    bots = [first, second];
    await eventually(() => world.discord.gatewaySessions().filter((session) => session.connected && session.shard[0] === shared).length === 2, 10_000, 'both sessions on the server’s shard');
  });
  after(async () => {
    await world?.close();
  });

  test('SHARD_COUNT=auto runs the shards Discord recommends; SHARD_IDS picks some of them', () => {
    const plan = (bot: BotProcess) => bot.entries.find((entry) => entry.msg === 'connecting to the gateway');
    assert.deepEqual([plan(world.bots[0]!)?.shards, plan(world.bots[0]!)?.shardCount], [[0, 1, 2], 3]);
    assert.deepEqual([plan(bots[0]!)?.shards, plan(bots[0]!)?.shardCount], [[shared, firstOnly].sort((a, b) => a - b), 3]);
    assert.deepEqual([plan(bots[1]!)?.shards, plan(bots[1]!)?.shardCount], [[shared, secondOnly].sort((a, b) => a - b), 3]);
  });

  /** The burst made exactly 5 generate calls, every command answered once (refusals ephemeral, first). */
  async function exactlyFive(interactions: FakeInteraction[], before: number): Promise<void> {
    const accepted = interactions.filter((interaction) => interaction.callbacks[0]!.type === 5);
    assert.equal(accepted.length, 5);
    assert.ok(interactions.filter((i) => i.callbacks[0]!.type === 4).every((i) => i.ephemeral), 'refusals are ephemeral first answers');
    await Promise.all(accepted.map((interaction) => waitSettled(interaction, 20_000)));
    assert.equal(world.pika.generateCalls.length - before, 5);
    assert.ok(interactions.every((interaction) => interaction.callbacks.length === 1), 'each interaction has exactly one response');
    assert.ok(interactions.every((interaction) => answeredBy(bots, interaction).length === 1), 'each interaction is claimed by one process');
  }

  /** Half the commands on a shard only the first process runs, half on one only the second runs (servers without the bot, through users' own installs). */
  const splitBetweenProcesses = (userOf: (i: number) => string) =>
    Array.from({ length: 100 }, (_, i) => ({ userId: userOf(i), installation: 'user' as const, guildId: snowflakeOnShard(i % 2 ? secondOnly : firstOnly, 3) }));

  test('100 commands at once from one user with 5 videos left, half through each process: exactly 5 generate calls', async () => {
    const user = newUserId();
    const before = world.pika.generateCalls.length;
    const interactions = await burst(world, splitBetweenProcesses(() => user), 'one user');
    await exactlyFive(interactions, before);
    const owners = await Promise.all(interactions.map((interaction) => ownerOf(bots, interaction)));
    assert.ok(owners.every((owner, i) => owner === bots[i % 2]), 'each half answered by its own process');
    // The two processes wrote the user's history at once: none of the five is missing from it.
    const history = await world.discord.chatInput({ name: 'pika', subcommand: 'history', userId: user, installation: 'user', guildId: null });
    await history.waitFor((i) => i.callbacks.length > 0, 10_000);
    assert.equal(history.callbacks[0]!.data.embeds[0].fields.length, 5);
  });

  test('a server cap of 5: 100 members at once, each command arriving at both processes, make exactly 5 generate calls', async () => {
    await admin(world, 'limits', { server_daily: 5 });
    const before = world.pika.generateCalls.length;
    const interactions = await burst(world, Array.from({ length: 100 }, () => ({ userId: newUserId() })), 'server cap');
    assert.ok(interactions.every((interaction) => interaction.deliveries.length === 2), 'every command reached both processes');
    await exactlyFive(interactions, before);
  });

  test('the operator’s global cap (15, 10 used): 100 users at once, half through each process, make exactly 5 generate calls', async () => {
    const before = world.pika.generateCalls.length;
    await exactlyFive(await burst(world, splitBetweenProcesses(() => newUserId()), 'global cap'), before);
  });

  test('a block made through one process refuses the member on the other at once', async () => {
    const member = newUserId();
    const before = world.pika.generateCalls.length;
    const block = await world.discord.chatInput({ name: 'pika-admin', subcommand: 'user block', options: { user: member }, memberPermissions: MODERATOR_PERMISSIONS });
    assert.match(await firstAnswer(block), /^Done: blocked/);
    const blocker = await ownerOf(bots, block);
    // Both processes have the server's settings cached from the bursts above; the other must drop its copy at once.
    let reachedOther = false;
    for (let attempt = 0; attempt < 40 && !reachedOther; attempt++) {
      const ask = await askForVideo(world, member, `blocked ${attempt}`);
      assert.match(await firstAnswer(ask), /A moderator has blocked you/);
      assert.equal(ask.ephemeral, true);
      reachedOther = (await ownerOf(bots, ask)) !== blocker;
    }
    assert.ok(reachedOther, 'a command reached the process that did not make the block');
    assert.equal(world.pika.generateCalls.length, before);
  });
});

describe('a gateway-only process and worker-only processes on one Redis', { skip: redisMissing() }, () => {
  let world: World;

  before(async () => {
    world = await startWorld({ BOT_ROLE: 'gateway', POLL_INTERVAL_MS: '60', DEFAULT_MAX_CONCURRENT: '1', DEFAULT_DAILY_LIMIT: '2' }, {}, 'redis');
  });
  after(async () => {
    await world?.close();
  });

  test('a worker delivers the gateway’s jobs; killed with -9 holding 10, another worker delivers all 10 with no extra generate call', async () => {
    const first = await world.startProcess({ BOT_ROLE: 'worker' });
    const before = world.pika.generateCalls.length;
    for (let i = 0; i < 10; i++) world.pika.nextTask({ feed: slowFeed(120) });
    const users = Array.from({ length: 10 }, () => newUserId());
    const interactions = await burst(world, users.map((userId) => ({ userId })), 'worker');
    assert.ok(interactions.every((interaction) => interaction.callbacks[0]!.type === 5), 'all 10 accepted');
    await eventually(() => world.pika.generateCalls.length === before + 10, 10_000, '10 generate calls');
    const taken = () => first.entries.filter((entry) => entry.msg === 'took a job from the pipeline').length;
    await eventually(() => taken() === 10, 5000, 'the worker to have taken every job');
    assert.equal(world.bot.entries.filter((entry) => entry.msg === 'task started').length, 0, 'the gateway started none itself');
    await eventually(() => interactions.every((interaction) => /Generating/.test(String(interaction.original?.embeds[0]?.title ?? ''))), 10_000, 'progress shown by the worker');

    const second = await world.startProcess({ BOT_ROLE: 'worker' });
    await first.stop('SIGKILL');
    await Promise.all(interactions.map((interaction) => waitSettled(interaction, 30_000)));
    for (const interaction of interactions) {
      assert.match(String(interaction.original!.embeds[0].title), /done/);
      assert.equal(interaction.original!.attachments.length, 1);
    }
    assert.equal(world.pika.generateCalls.length - before, 10, 'no generate call was repeated');
    assert.equal(second.entries.filter((entry) => entry.msg === 'took a job from the pipeline' && entry.state === 'running').length, 10);
    const settled = () => world.bots.flatMap((bot) => bot.entries).filter((entry) => entry.msg === 'job settled');
    await eventually(() => settled().length >= 10, 10_000, '10 settlements');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(settled().length, 10, 'every reservation settled once');
    assert.ok(settled().every((entry) => entry.outcome === 'delivered'));
    for (const user of users) assert.match(await quota(world, user), /Today: 1 video left[\s\S]*In progress: 0/);
  });

  test('kill -9 of a worker while its generate call is under way: another worker ends the job as interrupted and never sends it again', async () => {
    const first = world.bots.find((bot) => bot.running && bot !== world.bot) ?? (await world.startProcess({ BOT_ROLE: 'worker' }));
    const user = newUserId();
    const before = world.pika.generateCalls.length;
    world.pika.nextTask({ generateDelayMs: 5000, feed: slowFeed(2) });
    const interaction = await askForVideo(world, user, 'cut off');
    await eventually(() => world.pika.generateCalls.length === before + 1, 10_000, 'the generate call');
    const second = await world.startProcess({ BOT_ROLE: 'worker' });
    await first.stop('SIGKILL');
    await waitSettled(interaction, 30_000);
    await eventually(() => second.entries.some((entry) => entry.msg === 'took a job from the pipeline' && entry.state === 'starting'), 5000, 'the other worker to take the cut-off start');
    assert.match(String(interaction.original!.embeds[0].title), /^❌/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(world.pika.generateCalls.length, before + 1, 'generate was not sent again');
    // Its outcome is unknown, so it is settled once, as billed.
    const job = second.entries.find((entry) => entry.msg === 'took a job from the pipeline' && entry.state === 'starting')!.job;
    const settled = world.bots.flatMap((bot) => bot.entries).filter((entry) => entry.msg === 'job settled' && entry.job === job);
    assert.deepEqual(settled.map((entry) => [entry.outcome, entry.failure]), [['billed', 'interrupted_start']]);
  });

  test('✖ Cancel pressed through the gateway reaches the worker that holds the queued job', async () => {
    if (!world.bots.some((bot) => bot.running && bot !== world.bot)) await world.startProcess({ BOT_ROLE: 'worker' });
    const user = newUserId();
    const before = world.pika.generateCalls.length;
    world.pika.nextTask({ feed: slowFeed(30) });
    const running = await askForVideo(world, user, 'cancel running');
    await eventually(() => world.pika.generateCalls.length === before + 1, 10_000, 'the first generate call');
    const waiting = await askForVideo(world, user, 'cancel me');
    await waiting.waitFor((i) => i.original?.components?.[0]?.components?.[0]?.label === 'Cancel', 10_000);
    const click = await world.discord.component({ message: waiting.original!, customId: waiting.original!.components[0].components[0].custom_id, userId: user });
    await click.waitFor((i) => i.callbacks.length > 0, 10_000);
    assert.equal(click.callbacks[0]!.type, 6, 'acknowledged: the job was cancelled where it waited');
    await waiting.waitFor((i) => /Cancelled by/.test(i.original?.embeds[0]?.description ?? ''), 5000);
    await waitSettled(running, 20_000);
    assert.equal(world.pika.generateCalls.length, before + 1, 'the cancelled job never reached Pika');
  });
});
