import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import sqlite3 from 'sqlite3';
import { askForVideo, firstAnswer, newUserId, quota } from '../support/users.js';
import { eventually, eventuallyAsync, failureText, fixture, startWorld, waitSettled, type World } from '../support/world.js';

const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 1 + i * 3 })), { status: 'finished', progress: 100 }];

/** Reads job records straight from the bot's SQLite file, as an operator inspecting it would. */
async function storedJobs(world: World): Promise<Array<Record<string, any>>> {
  const jobs = new Keyv({ store: new KeyvSqlite({ uri: world.env.STORE_URL! }), namespace: 'jobs' });
  try {
    const records: Array<Record<string, any>> = [];
    for await (const [, value] of jobs.iterator!(undefined)) records.push(value as Record<string, any>);
    return records;
  } finally {
    await jobs.disconnect();
  }
}

const jobFor = async (world: World, prompt: string) => (await storedJobs(world)).find((job) => job.request.prompt === prompt);

/** The job's record once its end is stored (a moment after the user sees it). */
async function endedJobFor(world: World, prompt: string): Promise<Record<string, any> | undefined> {
  let job: Record<string, any> | undefined;
  await eventuallyAsync(async () => ['delivered', 'failed'].includes((job = await jobFor(world, prompt))?.state), 5000, `the end of "${prompt}" to be stored`);
  return job;
}

describe('jobs are durable records', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '5' });
  });
  after(async () => {
    await world?.close();
  });

  test('a delivered job keeps the full request, both locales, the reply and the outcome, and no interaction token', async () => {
    const user = newUserId();
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'image',
      userId: user,
      locale: 'zh-CN',
      guildLocale: 'en-GB',
      attachments: { image: { filename: 'cat.png', data: await fixture('image.png'), contentType: 'image/png' } },
      options: { prompt: 'the cat waves', negative_prompt: 'blur', frame_rate: 12, guidance_scale: 9, motion: 3, pikaffect: 'Melt', camera: 'zoom_in', model: '2.0' },
    });
    await waitSettled(interaction);
    const job = await endedJobFor(world, 'the cat waves');
    assert.ok(job, 'the job is kept after it ended');
    assert.equal(job.state, 'delivered');
    assert.equal(job.version, 1);
    assert.deepEqual(
      { ...job.request, images: job.request.images.map((i: any) => ({ optionName: i.optionName, type: i.type })) },
      {
        kind: 'image',
        prompt: 'the cat waves',
        negativePrompt: 'blur',
        model: '2.0',
        frameRate: 12,
        guidanceScale: 9,
        motion: 3,
        pikaffect: 'Melt',
        camera: 'zoom_in',
        images: [{ optionName: 'image', type: 'image/png' }],
      },
    );
    assert.match(job.request.images[0].url, /\/cat\.png\?/, 'the image is kept by reference');
    assert.equal(job.locale, 'zh-CN');
    assert.equal(job.guildLocale, 'en-GB');
    assert.equal(job.reply.requesterId, user);
    assert.equal(job.reply.channelId, world.discord.channelId);
    assert.equal(job.reply.messageId, interaction.original!.id, 'the reply message id is known from the deferral');
    assert.equal(job.reply.interactionToken, undefined, 'the token is dropped once the job ends');
    assert.ok(!JSON.stringify(job).includes(interaction.token));
    assert.equal(job.outcome.how, 'attached');
    assert.equal(job.outcome.where, 'reply');
    assert.equal(job.outcome.messageId, interaction.original!.id);
    assert.match(job.outcome.messageUrl, new RegExp(`/channels/${world.discord.guildId}/${world.discord.channelId}/${interaction.original!.id}$`));
    assert.equal(job.outcome.seed, job.result.seed);
    assert.ok(job.outcome.sizeBytes > 0);
    assert.ok(job.createdAt <= job.endedAt && job.result.finishedAt <= job.endedAt);
    assert.ok(job.pikaTaskId && world.pika.task(job.pikaTaskId), 'the upstream task id is recorded');
  });

  test('a failed job keeps a machine-readable reason', async () => {
    world.pika.nextTask({ feed: ['empty', { status: 'error', error: 'content moderation' }] });
    await waitSettled(await askForVideo(world, newUserId(), 'refused upstream'));
    const job = await endedJobFor(world, 'refused upstream');
    assert.equal(job?.state, 'failed');
    assert.deepEqual(job?.failure, { code: 'task_failed', billed: true, detail: 'content moderation' });
    assert.equal(job?.reply.interactionToken, undefined);
  });

  test('a store that fails right after generate: the running state is retried until stored, so a kill -9 then loses nothing', async () => {
    const user = newUserId();
    world.pika.nextTask({ generateDelayMs: 600, feed: slowFeed(30) });
    const generates = world.pika.generateCalls.length;
    const interaction = await askForVideo(world, user, 'paid while the disk is busy');
    await eventually(() => world.pika.generateCalls.length > generates, 10_000, 'the generate call');
    // Another process holds the database's write lock longer than the bot's busy timeout (5 s).
    const blocker = new sqlite3.Database(world.env.STORE_URL!.replace('sqlite://', ''));
    await new Promise<void>((resolve, reject) => blocker.exec('BEGIN EXCLUSIVE', (error) => (error ? reject(error) : resolve())));
    try {
      await world.bot.waitForLog(/"state":"running".*"msg":"could not store the job; retrying"/, 15_000);
    } finally {
      await new Promise<void>((resolve, reject) => blocker.exec('COMMIT', (error) => (error ? reject(error) : resolve())));
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    await eventually(() => world.bot.entries.some((e) => e.msg === 'task started') && world.pika.feedCalls.length > 0, 10_000, 'polling to begin');
    const storedRunning = async () => (await jobFor(world, 'paid while the disk is busy'))?.state === 'running';
    for (let i = 0; i < 100 && !(await storedRunning()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(await storedRunning(), 'the running state reached the store');
    await world.restartBot('SIGKILL');
    await waitSettled(interaction, 30_000);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(world.bot.entries.find((e) => e.msg === 'resumed after restart')?.interrupted, 0, 'not treated as an interrupted start');
    assert.equal(world.pika.generateCalls.length, generates + 1);
    await eventuallyAsync(async () => /Today: 4 videos left[\s\S]*In progress: 0/.test(await quota(world, user)), 5000, 'counted once, as delivered');
  });
});

describe('the bill ceiling counts every call that may have been billed', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ GLOBAL_DAILY_CAP: '2', DEFAULT_DAILY_LIMIT: '5', PIKA_GENERATE_TIMEOUT_MS: '500' });
  });
  after(async () => {
    await world?.close();
  });

  test('a refused call gives the cap back; an unknown outcome keeps it, refunds the user and says the outcome is unknown', async () => {
    const refusedUser = newUserId();
    world.pika.failNextGenerate({ kind: 'status', status: 400, body: { error: { message: 'bad prompt' } } });
    await waitSettled(await askForVideo(world, refusedUser, 'refused'));
    assert.match(await quota(world, refusedUser), /Today: 5 videos left/);

    const unknownUser = newUserId();
    world.pika.failNextGenerate({ kind: 'hang' });
    const hung = await askForVideo(world, unknownUser, 'hung');
    await waitSettled(hung);
    assert.match(failureText(hung), /unknown whether the video started/);
    assert.doesNotMatch(failureText(hung), /did not start/);
    assert.match(await quota(world, unknownUser), /Today: 5 videos left/, 'the user is refunded');

    const gatewayUser = newUserId();
    world.pika.failNextGenerate({ kind: 'status', status: 504, rawBody: 'Gateway Timeout' });
    const gateway = await askForVideo(world, gatewayUser, 'through a gateway');
    await waitSettled(gateway);
    assert.match(failureText(gateway), /unknown whether the video started/);

    const generates = world.pika.generateCalls.length;
    const refused = await askForVideo(world, newUserId(), 'over the ceiling');
    assert.match(await firstAnswer(refused), /daily limit of 2 videos across all servers/);
    assert.equal(refused.ephemeral, true);
    assert.equal(world.pika.generateCalls.length, generates, 'nothing sent past the ceiling');
  });
});
