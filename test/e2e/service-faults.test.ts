import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BotProcess } from '../support/bot-process.js';
import { askForVideo, firstAnswer, newUserId, quota } from '../support/users.js';
import { eventually, everythingTheBotSaid, failureText, makeSecrets, startWorld, waitSettled, type World } from '../support/world.js';

const COOL_DOWN_MS = 1500;

describe('circuit breaker on generate', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ PIKA_BREAKER_THRESHOLD: '5', PIKA_BREAKER_COOLDOWN_MS: String(COOL_DOWN_MS), PIKA_GENERATE_TIMEOUT_MS: '500' });
  });
  after(async () => {
    await world?.close();
  });

  async function attempt(prompt: string) {
    const interaction = await askForVideo(world, newUserId(), prompt);
    const answer = await firstAnswer(interaction);
    if (interaction.callbacks[0]!.type === 5) await waitSettled(interaction);
    return { interaction, answer };
  }

  test('five upstream failures in a row open it; commands are then refused at once with no generate call', async () => {
    world.pika.failNextGenerate({ kind: 'status', status: 500 }, 3);
    world.pika.failNextGenerate({ kind: 'network' });
    world.pika.failNextGenerate({ kind: 'hang' });
    for (let i = 0; i < 5; i++) {
      const { interaction } = await attempt(`failing ${i}`);
      assert.match(interaction.original!.embeds[0].title, /failed/);
    }
    assert.equal(world.pika.generateCalls.length, 5);
    const { interaction, answer } = await attempt('refused');
    assert.equal(interaction.ephemeral, true);
    assert.match(answer, /video service is unavailable right now.*try again <t:\d+:R>/);
    assert.equal(world.pika.generateCalls.length, 5, 'no generate call while open');
  });

  test('after the cool-down one real command is the probe: a failure re-opens it', async () => {
    await sleep(COOL_DOWN_MS + 100);
    world.pika.failNextGenerate({ kind: 'status', status: 503 });
    const probe = await attempt('probe that fails');
    assert.match(probe.interaction.original!.embeds[0].title, /failed/);
    assert.equal(world.pika.generateCalls.length, 6);
    const { answer } = await attempt('refused again');
    assert.match(answer, /unavailable/);
    assert.equal(world.pika.generateCalls.length, 6);
  });

  test('a successful probe closes it and commands flow again', async () => {
    await sleep(COOL_DOWN_MS + 100);
    const probe = await attempt('probe that works');
    assert.match(probe.interaction.original!.embeds[0].title, /done/);
    const next = await attempt('business as usual');
    assert.match(next.interaction.original!.embeds[0].title, /done/);
    assert.equal(world.pika.generateCalls.length, 8);
  });

  test('refusals of the request itself (4xx) do not open it', async () => {
    world.pika.failNextGenerate({ kind: 'status', status: 400, body: { error: { message: 'bad prompt' } } }, 6);
    for (let i = 0; i < 6; i++) await attempt(`rejected ${i}`);
    const ok = await attempt('still open for business');
    assert.match(ok.interaction.original!.embeds[0].title, /done/);
  });
});

describe('the store fails', () => {
  test('at start-up: one clear line and a non-zero exit', async () => {
    const { botToken, apiKey } = makeSecrets();
    const bot = BotProcess.start({
      DISCORD_TOKEN: botToken,
      PIKA_API_URL: 'http://127.0.0.1:9',
      PIKA_API_KEY: apiKey,
      STORE_URL: 'sqlite:///dev/null/pika/pika.sqlite',
    });
    const code = await bot.waitForExit();
    assert.equal(code, 1);
    assert.equal(bot.lines.length, 1, bot.lines.join('\n'));
    assert.match(bot.lines[0]!, /could not start: Cannot open the store at \/dev\/null\/pika\/pika\.sqlite/);
    assert.ok(!bot.lines[0]!.includes(botToken) && !bot.lines[0]!.includes(apiKey));
  });

  test('at run time: a clear answer, nothing charged, and the bot keeps serving', async () => {
    const world = await startWorld();
    try {
      const user = newUserId();
      await waitSettled(await askForVideo(world, user, 'before the disk broke'));
      await eventually(() => world.bot.lines.some((l) => l.includes('"msg":"job settled"')), 5000, 'the video to be settled');
      const before = world.pika.generateCalls.length;
      const path = world.env.STORE_URL!.replace('sqlite://', '');
      for (const file of [path, `${path}-wal`, `${path}-shm`]) await writeFile(file, Buffer.alloc(8192, 7));
      const answers: string[] = [];
      for (let i = 0; i < 3; i++) {
        // Admission is decided in memory and the reply deferred at once; the failed write is then
        // told on that reply (or, where a read failed first, as an ephemeral refusal).
        const interaction = await askForVideo(world, newUserId(), `broken store ${i}`);
        await interaction.waitFor((it) => it.ephemeral || (it.original?.content ?? '') !== '', 10_000);
        answers.push(interaction.ephemeral ? await firstAnswer(interaction) : interaction.original!.content);
        assert.equal(interaction.original?.embeds.length ?? 0, 0, 'no job was shown');
      }
      for (const answer of answers) assert.match(answer, /^I can’t reach my records right now, so nothing was started and nothing was charged/);
      assert.equal(world.pika.generateCalls.length, before, 'nothing was sent upstream, so nothing was charged');
      assert.ok(world.bot.running, 'the bot is still running');
      assert.match(await quota(world, user), /allowance|records/);
    } finally {
      await world.close();
    }
  });
});

describe('results the bot will not take', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ MAX_VIDEO_BYTES: '100000', DEFAULT_DAILY_LIMIT: '1' });
  });
  after(async () => {
    await world?.close();
  });

  test('a result URL that is not http(s) is never fetched: the video comes from the sharing URL', async () => {
    world.pika.nextTask({ resultUrl: 'file:///etc/passwd' });
    const interaction = await askForVideo(world, newUserId(), 'sneaky');
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 1);
    assert.ok(!everythingTheBotSaid(world).includes('/etc/passwd'), 'the file URL was neither fetched nor shown');
  });
});
