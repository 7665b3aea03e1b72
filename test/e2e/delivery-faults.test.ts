import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { askForVideo, newUserId, quota } from '../support/users.js';
import { eventually, eventuallyAsync, fixture, describeOnEachStore, startWorld, waitSettled, type World } from '../support/world.js';

/** A feed that keeps the task running for a while before it finishes. */
const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: 1 + i * 3 })), { status: 'finished', progress: 100 }];

/** Every way the bot writes a message: edits of the reply, follow-ups, channel messages. */
const MESSAGE_WRITES = /\/messages\/@original$|\/channels\/\d+\/messages$|^\/webhooks\/\d+\/[^/]+$/;

describeOnEachStore('delivery faults: a paid video is never lost or refunded', (store) => {
  let world: World;
  let tinyMp4: Buffer;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '5', RESULT_DOWNLOAD_RETRY_SECONDS: '1.5' }, {}, store);
    tinyMp4 = await fixture('tiny.mp4');
  });
  after(async () => {
    await world?.close();
  });

  const channelPostsFor = (user: string) => world.discord.channelMessages.filter((m) => m.content.includes(`<@${user}>`));
  /** The user's video cost one generate call and exactly one video of their allowance, kept. */
  async function countedOnce(user: string, prompt: string): Promise<void> {
    assert.equal(world.pika.generateCalls.filter((c) => (c.body as { promptText?: string }).promptText === prompt).length, 1, 'one generate call');
    await eventuallyAsync(async () => /Today: 4 videos left[\s\S]*In progress: 0/.test(await quota(world, user)), 5000, 'one video counted, none running');
  }

  async function finishedVideo(user: string, prompt: string, steps = 6): Promise<FakeInteraction> {
    world.pika.nextTask({ feed: slowFeed(steps) });
    return askForVideo(world, user, prompt);
  }

  test('Discord answers 503 to every message write when the video finishes, with a restart in the middle: one video arrives after recovery, counted once', async () => {
    const user = newUserId();
    const prompt = `through the outage ${user}`;
    const interaction = await finishedVideo(user, prompt, 10);
    await interaction.waitFor((i) => (i.original?.edits ?? 0) >= 1, 10_000);
    const outage = world.discord.startOutage({ route: MESSAGE_WRITES });
    const uploadsRefused = () => world.discord.requests.filter((r) => r.status === 503 && r.files.length > 0).length;
    await eventually(() => uploadsRefused() >= 2, 15_000, 'the video upload to meet the outage, twice');
    await world.restartBot();
    const before = uploadsRefused();
    await eventually(() => uploadsRefused() > before, 15_000, 'the restarted bot to try the upload again');
    // On Redis the stopping process handed the job back to the shared pipeline, where the next one took it.
    const resumed = (e: Record<string, unknown>) => (store === 'redis' ? e.msg === 'took a job from the pipeline' && e.state === 'delivering' : e.msg === 'resumed after restart' && e.resumed === 1);
    assert.ok(world.bot.entries.some(resumed), 'the delivering job was resumed');
    outage.end();
    await waitSettled(interaction, 20_000);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 1);
    assert.ok(interaction.original!.attachments[0]!.data.equals(tinyMp4));
    assert.equal(channelPostsFor(user).length, 0, 'not posted a second time in the channel');
    await countedOnce(user, prompt);
    const outcomes = world.bots.flatMap((bot) => bot.entries).filter((e) => e.msg === 'job settled' && e.job === jobOf(prompt));
    assert.deepEqual(outcomes.map((e) => e.outcome), ['delivered'], 'settled once, as delivered: no refund');
  });

  test('an outage that outlasts the interaction token: the video is posted in the channel once Discord is back', async () => {
    const user = newUserId();
    const prompt = `outage then expiry ${user}`;
    const interaction = await finishedVideo(user, prompt, 6);
    const outage = world.discord.startOutage({ route: MESSAGE_WRITES });
    await eventually(() => world.discord.requests.some((r) => r.status === 503 && r.files.length > 0 && r.route.includes(interaction.token)), 15_000, 'the upload to meet the outage');
    world.discord.expireToken(interaction);
    await new Promise((resolve) => setTimeout(resolve, 400));
    outage.end();
    await eventually(() => channelPostsFor(user).length > 0, 20_000, 'the channel post');
    const [post, ...others] = channelPostsFor(user);
    assert.equal(others.length, 0);
    assert.ok(post!.attachments[0]!.data.equals(tinyMp4));
    assert.deepEqual(post!.allowed_mentions, { parse: [], users: [user], replied_user: false });
    await countedOnce(user, prompt);
  });

  test('CDN 404s right after "finished": retried until the file is there, then attached', async () => {
    const user = newUserId();
    const prompt = `cdn lag ${user}`;
    world.pika.failNextCdn({ kind: 'status', status: 404 }, 3);
    const before = world.pika.cdnVideoCalls.length;
    const interaction = await finishedVideo(user, prompt, 2);
    await waitSettled(interaction, 20_000);
    assert.equal(interaction.original!.attachments.length, 1);
    assert.equal(world.pika.cdnVideoCalls.length - before, 4, 'three failures, then the file');
    await countedOnce(user, prompt);
  });

  test('a result URL that keeps failing (5xx, reset, stall): the sharing URL is used', async () => {
    const user = newUserId();
    const prompt = `flaky cdn ${user}`;
    world.pika.failNextCdn({ kind: 'status', status: 503 }, 2);
    world.pika.failNextCdn({ kind: 'network' }, 2);
    world.pika.failNextCdn({ kind: 'stall' }, 1);
    world.pika.failNextCdn({ kind: 'status', status: 500 }, 40);
    const interaction = await finishedVideo(user, prompt, 2);
    await waitSettled(interaction, 45_000);
    assert.equal(interaction.original!.attachments.length, 1);
    assert.ok(world.pika.cdnVideoCalls.some((r) => r.path.endsWith('/share.mp4')), 'fetched from the sharing URL');
    await countedOnce(user, prompt);
    world.pika.reset();
  });

  test('neither URL can be fetched: a link is delivered rather than a failure, and it counts', async () => {
    const user = newUserId();
    const prompt = `no cdn ${user}`;
    world.pika.failNextCdn({ kind: 'status', status: 404 }, 60);
    world.pika.failNextCdn({ kind: 'status', status: 404 }, 60, 'share.mp4');
    const interaction = await finishedVideo(user, prompt, 2);
    await waitSettled(interaction, 30_000);
    const final = interaction.original!;
    assert.match(final.embeds[0].title, /done/);
    assert.equal(final.attachments.length, 0);
    assert.match(JSON.stringify(final.embeds[0].fields), /could not fetch the file/);
    assert.match(final.components[0]?.components.find((b: any) => b.style === 5)?.url ?? '', /\/cdn\/.+\/share\.mp4$/, 'the sharing URL, meant for people');
    await countedOnce(user, prompt);
    world.pika.reset();
  });

  test('a video over MAX_VIDEO_BYTES is linked, not refused', async () => {
    await world.restartBot();
    world.env.MAX_VIDEO_BYTES = '100000';
    await world.restartBot();
    const user = newUserId();
    const prompt = `huge ${user}`;
    const header = Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypmp42')]);
    world.pika.nextTask({ video: Buffer.concat([header, Buffer.alloc(200_000)]) });
    const interaction = await askForVideo(world, user, prompt);
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 0);
    assert.match(JSON.stringify(interaction.original!.embeds[0].fields), /Too large to upload here/);
    await countedOnce(user, prompt);
    delete world.env.MAX_VIDEO_BYTES;
    await world.restartBot();
  });

  for (const [name, kill, status] of [
    ['expired token (401 50027)', (i: FakeInteraction) => world.discord.expireToken(i), 401],
    ['deleted reply (404 10008)', (i: FakeInteraction) => world.discord.deleteOriginal(i), 404],
  ] as const) {
    test(`${name}: at most one request reaches the dead reply, and the video arrives in the channel`, async () => {
      const user = newUserId();
      const prompt = `dead reply ${name} ${user}`;
      const interaction = await finishedVideo(user, prompt, 25);
      await interaction.waitFor((i) => (i.original?.edits ?? 0) >= 1, 10_000);
      kill(interaction);
      await eventually(() => channelPostsFor(user).length > 0, 20_000, 'the channel post');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const dead = world.discord.requests.filter((r) => r.route.includes(interaction.token) && r.status === status);
      assert.ok(dead.length <= 1, `${dead.length} requests hit the dead reply`);
      assert.equal(channelPostsFor(user).length, 1);
      await countedOnce(user, prompt);
    });
  }

  /** The job id of the request with `prompt`, from the bot's log. */
  function jobOf(prompt: string): unknown {
    const taskIds = new Set(world.pika.taskIds().filter((id) => (world.pika.task(id)!.body as { promptText?: string }).promptText === prompt));
    return world.bots.flatMap((bot) => bot.entries).find((e) => e.msg === 'task started' && taskIds.has(String(e.pikaTaskId)))?.job;
  }
});
