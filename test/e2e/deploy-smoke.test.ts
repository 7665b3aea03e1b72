/**
 * The compose deployment, without a Docker engine: the image's layout (what its final stage
 * copies), its CMD, and each compose service's environment, run as real processes on one real
 * Redis against the fake Discord and Pika. The stack must come up ready, deliver a video, and
 * stop within compose's grace period on SIGTERM, as `docker compose down` sends it.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeDiscord } from '../fakes/discord.js';
import { FakePika } from '../fakes/pika.js';
import { BotProcess } from '../support/bot-process.js';
import { composeEnvironment, composeServices, imageCommand, readProjectFile } from '../support/deploy-files.js';
import { redisMissing, startRedis, type RedisServer } from '../support/redis.js';
import { newUserId } from '../support/users.js';
import { eventually, makeSecrets, waitSettled } from '../support/world.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** compose's stop_grace_period for the bot services. */
const GRACE_MS = 15_000;

describe('the compose stack, run as the image runs it', { skip: redisMissing() }, () => {
  let redis: RedisServer;
  let discord: FakeDiscord;
  let pika: FakePika;
  let app: string;
  const processes: BotProcess[] = [];

  before(async () => {
    const secrets = makeSecrets();
    [redis, discord, pika] = await Promise.all([startRedis(), FakeDiscord.start({ botToken: secrets.botToken }), FakePika.start({ apiKey: secrets.apiKey })]);
    // What the final stage holds: node_modules, dist and package.json, nothing else (no source, no tsx).
    app = await mkdtemp(join(tmpdir(), 'pika-image-'));
    await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
    await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
    const [dockerfile, compose] = await Promise.all([readProjectFile('Dockerfile'), readProjectFile('docker-compose.yml')]);
    const [node, ...args] = imageCommand(dockerfile);
    assert.equal(node, 'node');
    const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    // What .env holds in a real deployment, pointed at the fakes, with the tests' short intervals.
    const dotEnv = {
      DISCORD_TOKEN: secrets.botToken,
      DISCORD_API_URL: discord.apiUrl,
      DEV_GUILD_ID: discord.guildId,
      PIKA_API_URL: pika.url,
      PIKA_API_KEY: secrets.apiKey,
      ALLOWED_PRIVATE_MEDIA_HOSTS: '127.0.0.1',
      POLL_INTERVAL_MS: '40',
      PROGRESS_EDIT_INTERVAL_MS: '30',
      LOG_LEVEL: 'debug',
    };
    const services = composeServices(compose);
    const replicas = { gateway: 1, worker: Number(/replicas: (\d+)/.exec(services.get('worker')!)?.[1] ?? 1) };
    for (const [name, count] of Object.entries(replicas)) {
      const environment = composeEnvironment(services.get(name)!);
      assert.equal(environment.STORE_URL, 'redis://redis:6379');
      for (let i = 0; i < count; i++) {
        // The compose network's redis:6379 is the suite's Redis here; every process shares this host, so each metrics port is a free one.
        const env = { ...imageEnv, ...dotEnv, ...environment, STORE_URL: redis.url, METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' };
        processes.push(BotProcess.start(env, { args, cwd: app }));
      }
    }
    await Promise.all(processes.map((bot) => bot.waitForLog(/slash commands checked|working jobs without a gateway/, 30_000)));
  });

  after(async () => {
    await Promise.all(processes.map((bot) => bot.stop('SIGKILL')));
    await Promise.all([discord?.close(), pika?.close(), redis?.stop()]);
    if (app) await rm(app, { recursive: true, force: true });
  });

  test('one gateway and the workers come up ready, and a command is delivered as a video', async () => {
    assert.equal(processes.length, 3);
    for (const bot of processes) {
      const port = await bot.waitForLog(/operations endpoints listening/).then((line) => JSON.parse(line).port as number);
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200, await ready.text());
    }
    const interaction = await discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: 'a lighthouse in fog' }, userId: newUserId() });
    await waitSettled(interaction);
    assert.match(String(interaction.original?.embeds[0]?.title), /^✅/);
    assert.equal(interaction.original?.attachments.length, 1);
    assert.equal(pika.generateCalls.length, 1);
    const settled = () => processes.flatMap((bot) => bot.lines.filter((line) => line.includes('"msg":"job settled"')));
    // The log line may trail the message on Discord.
    await eventually(() => settled().length > 0, 5000, 'the job to be settled');
    assert.equal(settled().length, 1, 'one process made and settled it, once');
  });

  test('SIGTERM, as `docker compose down` sends it, stops every process cleanly within the grace period', async () => {
    const started = Date.now();
    const codes = await Promise.all(processes.map((bot) => bot.stop('SIGTERM')));
    assert.deepEqual(codes, processes.map(() => 0));
    assert.ok(Date.now() - started < GRACE_MS, `stopped in ${Date.now() - started} ms`);
  });
});
