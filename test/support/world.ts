import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { FakeDiscord, type FakeDiscordOptions, type FakeInteraction } from '../fakes/discord.js';
import { FakePika } from '../fakes/pika.js';
import { BotProcess } from './bot-process.js';
import { redisMissing, startRedis } from './redis.js';

/** Secrets shaped like the real ones, fresh per world, so a leak anywhere can be searched for. */
export function makeSecrets() {
  return {
    botToken: `MTA${randomBytes(8).toString('hex')}.GfAkE1.${randomBytes(16).toString('hex')}`,
    apiKey: `sk-test${randomBytes(16).toString('hex')}`,
  };
}

export interface World {
  discord: FakeDiscord;
  pika: FakePika;
  bot: BotProcess;
  secrets: ReturnType<typeof makeSecrets>;
  env: Record<string, string>;
  /** Every bot process this world started, for log scans. */
  bots: BotProcess[];
  /** Starts one more bot process on the same store (Redis), with `overrides` over the world's environment. */
  startProcess(overrides?: Record<string, string>): Promise<BotProcess>;
  restartBot(signal?: NodeJS.Signals): Promise<void>;
  close(): Promise<void>;
}

/** Fast timings so end-to-end tests finish in seconds. */
const FAST_ENV = {
  POLL_INTERVAL_MS: '40',
  PROGRESS_EDIT_INTERVAL_MS: '30',
  TASK_TIMEOUT_MS: '20000',
  PIKA_GENERATE_TIMEOUT_MS: '3000',
  PIKA_FEED_TIMEOUT_MS: '1000',
  LOG_LEVEL: 'debug',
  DELIVERY_RETRY_BASE_MS: '100',
  RESULT_DOWNLOAD_RETRY_SECONDS: '2',
  // No usage limits unless a test sets them: most tests are about something else.
  DEFAULT_DAILY_LIMIT: 'unlimited',
  DEFAULT_WEEKLY_LIMIT: 'unlimited',
  DEFAULT_COOLDOWN_SECONDS: '0',
  DEFAULT_MAX_CONCURRENT: 'unlimited',
  // The fakes serve media from 127.0.0.1, which downloads otherwise refuse.
  ALLOWED_PRIVATE_MEDIA_HOSTS: '127.0.0.1',
  // On Redis, a killed worker's jobs are taken over within a few seconds.
  JOB_LOCK_MS: '3000',
};

/**
 * A fake Discord, a fake Pika and the real bot process wired to both, as a server owner would
 * run it (configuration by environment only).
 */
/** The stores the behaviour suites run on: SQLite (the default) and Redis. */
export type StoreKind = 'sqlite' | 'redis';

export async function startWorld(overrides: Record<string, string> = {}, discordOptions: Omit<FakeDiscordOptions, 'botToken'> = {}, store: StoreKind = 'sqlite'): Promise<World> {
  const secrets = makeSecrets();
  const redis = store === 'redis' ? await startRedis() : undefined;
  const discord = await FakeDiscord.start({ ...discordOptions, botToken: secrets.botToken });
  const pika = await FakePika.start({ apiKey: secrets.apiKey });
  const storeDir = await mkdtemp(join(tmpdir(), 'pika-e2e-'));
  const env: Record<string, string> = {
    DISCORD_TOKEN: secrets.botToken,
    DISCORD_API_URL: discord.apiUrl,
    DEV_GUILD_ID: discord.guildId,
    PIKA_API_URL: pika.url,
    PIKA_API_KEY: secrets.apiKey,
    STORE_URL: redis?.url ?? `sqlite://${join(storeDir, 'pika.sqlite')}`,
    ...FAST_ENV,
    ...overrides,
  };
  const bots: BotProcess[] = [];
  const launch = async (overrides: Record<string, string> = {}) => {
    const bot = BotProcess.start({ ...env, ...overrides });
    bots.push(bot);
    // A gateway is ready once its shards are and its commands checked; a worker alone, once it takes jobs.
    await bot.waitForLog(/slash commands checked|working jobs without a gateway/, 30_000);
    return bot;
  };

  const world: World = {
    discord,
    pika,
    secrets,
    env,
    bots,
    bot: await launch(),
    startProcess: launch,
    async restartBot(signal: NodeJS.Signals = 'SIGTERM') {
      await world.bot.stop(signal);
      world.bot = await launch();
    },
    /** Tears everything down, and fails if any bot process ever had an unhandled error. */
    async close() {
      await Promise.all(bots.map((bot) => bot.stop('SIGKILL')));
      await discord.close();
      await pika.close();
      await rm(storeDir, { recursive: true, force: true });
      await redis?.stop();
      const unhandled = bots.flatMap((bot) => bot.lines).filter((line) => /"msg":"(unhandled promise rejection|uncaught exception)"/.test(line));
      if (unhandled.length > 0) throw new Error(`the bot had unhandled errors:\n${unhandled.join('\n')}`);
    },
  };
  return world;
}

export const fixture = (name: string) => readFile(new URL(`../fixtures/${name}`, import.meta.url));

/** The reply shows a finished video or a failure (✅ / ❌, in any language): the task is over. */
export function isSettled(interaction: FakeInteraction): boolean {
  const original = interaction.original;
  if (!original) return false;
  const title = String(original.embeds[0]?.title ?? '');
  return title.startsWith('✅') || title.startsWith('❌') || (interaction.ephemeral && original.content !== '');
}

export async function waitSettled(interaction: FakeInteraction, timeoutMs = 15_000): Promise<void> {
  await interaction.waitFor(isSettled, timeoutMs);
}

/** Every string the bot sent to Discord (bodies and uploaded files' names) plus its logs. */
export function everythingTheBotSaid(world: World): string {
  const discordBodies = world.discord.requests.map((r) => JSON.stringify({ route: r.route, query: r.query, json: r.json, files: r.files.map((f) => f.filename) }));
  const pikaBodies = world.pika.requests.map((r) => JSON.stringify({ path: r.path, body: r.body }));
  return [...world.bots.flatMap((bot) => bot.lines), ...discordBodies, ...pikaBodies].join('\n');
}

export function failureText(interaction: FakeInteraction): string {
  const embed = interaction.original?.embeds[0];
  return `${interaction.original?.content ?? ''} ${embed?.title ?? ''} ${embed?.description ?? ''}`;
}

/** Polls `predicate` until it holds, for conditions that no fake signals (e.g. upstream calls). */
export function eventually(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  return eventuallyAsync(async () => predicate(), timeoutMs, what);
}

export async function eventuallyAsync(predicate: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Declares the suite once per store: on SQLite, and on a real Redis of its own (skipped with
 * one line where redis-server is missing, except under CI).
 */
export function describeOnEachStore(name: string, suite: (store: StoreKind) => void): void {
  for (const store of ['sqlite', 'redis'] as const) {
    describe(`${name} [${store}]`, { skip: store === 'redis' ? redisMissing() : false }, () => suite(store));
  }
}
