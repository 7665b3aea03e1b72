/**
 * `npm run bench`: prints the figures behind the bot's speed and memory targets. Figures, not
 * pass/fail: timing assertions flake on a busy machine, so tests don't make them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchSimultaneousDeliveries } from './deliveries.js';
import { measureSideBySide, sideBySideTable } from './side-by-side.js';
import { startWorld } from '../test/support/world.js';
import { renderDelivery, renderProgress, toDisplayRequest } from '../src/discord/messages.js';
import type { ReplyWriter } from '../src/discord/replies.js';
import { createLogger } from '../src/logger.js';
import { checkGenerationOptions } from '../src/pika/request.js';
import { PollScheduler } from '../src/jobs/scheduler.js';
import { Storage } from '../src/storage.js';
import { JobService } from '../src/jobs/job-service.js';
import type { JobStore } from '../src/jobs/job-store.js';
import type { Job } from '../src/jobs/job.js';
import { ByteBudget } from '../src/util/byte-budget.js';
import { GuildSettingsStore } from '../src/usage/guild-settings.js';
import { isoWeek, utcDay } from '../src/usage/limits.js';
import { UsageService } from '../src/usage/usage-service.js';
import { KeyvUsageBackend } from '../src/usage/usage-store.js';
/** A job id as the bot makes them (a UUID). */
const JOB_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

const defaults = { model: '1.5', aspectRatio: '16:9', frameRate: 24, guidanceScale: 12, motion: 1, ingredientsMode: 'precise' } as const;

function measure(name: string, iterations: number, body: (i: number) => void): void {
  for (let i = 0; i < Math.min(1000, iterations); i++) body(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) body(i);
  const ms = performance.now() - start;
  console.log(`${name.padEnd(52)} ${(iterations / (ms / 1000)).toFixed(0).padStart(10)} ops/s  (${((ms * 1000) / iterations).toFixed(1)} µs each)`);
}

function benchRendering(): void {
  const worst = checkGenerationOptions('text', { prompt: '*_`<@&1>|'.repeat(250).slice(0, 2000), negative_prompt: '~'.repeat(1000), images: [] }, defaults, 1);
  const display = toDisplayRequest(worst);
  measure('render progress (2000-char prompt, all escaped)', 20_000, (i) => {
    renderProgress(display, { status: 'generating', progress: i % 100, posterUrl: undefined }, i, 'en-US');
  });
  measure('render delivery', 20_000, (i) => {
    renderDelivery(display, '1', { seed: i, durationSeconds: 5, resultUrl: 'https://x/y.mp4', sizeBytes: 1, attachmentName: 'a.mp4' }, i, 'en-US', JOB_ID);
  });
}

function benchLogger(): void {
  const logger = createLogger({ level: 'info', secrets: ['MTAfaketoken.abc.def', 'sk-secretkey123'], write: () => {} });
  measure('log line with redaction', 50_000, (i) => logger.info('feed poll', { task: 'abc', attempt: i, url: '/webhooks/1/tok/messages/@original' }));
}

async function benchScheduler(): Promise<void> {
  const jobs = 10_000;
  const pollsEach = 5;
  let inFlight = 0;
  let peak = 0;
  let polls = 0;
  const scheduler = new PollScheduler({ concurrency: 16, onError: (e) => console.error(e) });
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let finished = 0;
    for (let j = 0; j < jobs; j++) {
      let remaining = pollsEach;
      scheduler.add({
        async poll() {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setImmediate(r));
          inFlight--;
          polls++;
          if (--remaining > 0) return 0;
          if (++finished === jobs) resolve();
          return 'done';
        },
      });
    }
  });
  const ms = performance.now() - start;
  console.log(`${`scheduler: ${jobs} tasks × ${pollsEach} polls, concurrency 16`.padEnd(52)} ${(polls / (ms / 1000)).toFixed(0).padStart(10)} polls/s  (peak in flight ${peak})`);
}

async function benchMemoryPerTask(): Promise<void> {
  const tasks = 5000;
  const records = new Map<string, Job>();
  const store = { save: async (job: Job) => void records.set(job.id, structuredClone(job)), get: async (id: string) => records.get(id) } as unknown as JobStore;
  const replies = { edit: async () => ({ id: '1', channel_id: '2' }), post: async () => ({ message: { id: '1', channel_id: '2' }, where: 'reply' }), tokenUsable: () => true } as unknown as ReplyWriter;
  const pollScheduler = new PollScheduler({ concurrency: 8, onError: () => {} });
  const deliveryScheduler = new PollScheduler({ concurrency: 8, onError: () => {} });
  let ids = 0;
  const config = { pollIntervalMs: 3_600_000, taskTimeoutMs: 7_200_000, progressEditIntervalMs: 3000, upstreamConcurrency: null };
  const service = new JobService({
    config,
    pika: { generate: async () => `task-${ids++}` },
    resolveImages: async () => [],
    replies,
    store,
    usage: { settle: async () => true, startWaiting: async () => true },
    gate: { recheck: async () => null, ticket: async () => undefined },
    pollScheduler,
    deliveryScheduler,
    poller: { config, pika: { feed: async () => ({ id: '', videos: [] }) }, replies, sanitize: (text) => text },
    delivery: {
      config: { maxVideoBytes: 1, deliveryRetryMs: 1, downloadRetryMs: 1, retryBaseMs: 1 },
      replies,
      fetchVideo: async () => {
        throw new Error('not in this bench');
      },
      budget: new ByteBudget(1),
    },
    logger: createLogger({ level: 'error', secrets: [], write: () => {} }),
    now: Date.now,
  });
  const request = checkGenerationOptions('text', { prompt: 'a fox in the snow, cinematic, 4k', images: [] }, defaults, 1);
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < tasks; i++) {
    await service.start(request, {
      applicationId: '1',
      interactionToken: `token-${i}`.padEnd(180, 'x'),
      interactionId: String(i),
      channelId: '2',
      guildId: '3',
      requesterId: '4',
      attachmentSizeLimit: 10 * 1024 * 1024,
    }, {
      reservation: { id: `r${i}`, guildId: '3', userId: '4', day: '', week: '', startedAt: 0, previousLastStartAt: null },
      ticket: { probe: false, succeeded() {}, failed() {}, release() {} },
      waiting: false,
    }, { locale: 'en-US', guildLocale: 'en-US' });
  }
  globalThis.gc?.();
  const perTask = (process.memoryUsage().heapUsed - before) / tasks;
  console.log(`${`memory per in-flight job (${tasks} jobs${globalThis.gc ? '' : ', no --expose-gc'})`.padEnd(52)} ${(perTask / 1024).toFixed(1).padStart(10)} KiB`);
  pollScheduler.stop();
}

/** The burst path: check-and-reserve over SQLite, 500 commands at once from 500 users. */
async function benchReservations(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pika-bench-'));
  const storage = await Storage.open(`sqlite://${join(dir, 'bench.sqlite')}`);
  const usage = new UsageService({
    backend: new KeyvUsageBackend(storage.namespace('usage')),
    settings: new GuildSettingsStore(storage.namespace('settings')),
    operator: { ownerIds: new Set(), defaults: { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 0, maxConcurrent: 2, serverDailyCap: null }, globalDailyCap: null, allowDms: false, maxQueuedPerUser: 0, upstreamConcurrency: null, userInstall: { dailyLimit: 3, weeklyLimit: 10 } },
  });
  await usage.reserve('guild', 'warm-up');
  const start = performance.now();
  await Promise.all(Array.from({ length: 500 }, (_, i) => usage.reserve('guild', `user-${i}`)));
  const ms = performance.now() - start;
  console.log(`${'reserve over SQLite: 500 commands at once'.padEnd(52)} ${ms.toFixed(0).padStart(10)} ms in all  (${((ms * 1000) / 500).toFixed(0)} µs each)`);
  await storage.close();
  await rm(dir, { recursive: true, force: true });
}

/**
 * Start-up with a big history: 100,000 usage records (99 users in each of 1,000 servers, with
 * their day and week counts, and the servers' own) and 300 open reservations. Start-up's store
 * work is opening the store and reading what must be reconciled; a store from before the open
 * reservations' records is scanned once, the first time.
 */
async function benchStartupReconciliation(): Promise<void> {
  const guilds = 1000;
  const usersPerGuild = 99;
  const openReservations = 300;
  const dir = await mkdtemp(join(tmpdir(), 'pika-bench-'));
  const url = `sqlite://${join(dir, 'bench.sqlite')}`;
  const operator = { ownerIds: new Set<string>(), defaults: { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 0, maxConcurrent: 2, serverDailyCap: null }, globalDailyCap: null, allowDms: false, maxQueuedPerUser: 0, upstreamConcurrency: null, userInstall: { dailyLimit: 3, weeklyLimit: 10 } };
  const openUsage = async () => {
    const storage = await Storage.open(url);
    const backend = new KeyvUsageBackend(storage.namespace('usage'));
    return { storage, backend, usage: new UsageService({ backend, settings: new GuildSettingsStore(storage.namespace('settings')), operator }) };
  };

  const seeded = await openUsage();
  const day = utcDay(Date.now());
  const week = isoWeek(Date.now());
  const history: Array<[key: string, value: unknown]> = [];
  for (let g = 0; g < guilds; g++) {
    const total = Array.from({ length: usersPerGuild }, (_, u) => 1 + (u % 5)).reduce((sum, n) => sum + n, 0);
    history.push([`guild:guild-${g}`, { day, week, dayCount: total, weekCount: total }]);
    for (let u = 0; u < usersPerGuild; u++) {
      history.push([`user:guild-${g}:user-${u}`, { day, dayCount: 1 + (u % 5), week, weekCount: 1 + (u % 5), lastStartAt: Date.now(), running: [] }]);
    }
  }
  await seeded.backend.transact([], () => ({ writes: history, result: undefined }));
  let start = performance.now();
  await seeded.usage.openReservations();
  const migrationMs = performance.now() - start;
  await Promise.all(Array.from({ length: openReservations }, (_, i) => seeded.usage.reserve(`guild-${i % guilds}`, `starter-${i}`)));
  await seeded.storage.close();

  start = performance.now();
  const restarted = await openUsage();
  const found = await restarted.usage.openReservations();
  const startupMs = performance.now() - start;
  if (found.length !== openReservations) throw new Error(`found ${found.length} open reservations, not ${openReservations}`);
  const records = `${history.length / 1000}k records`;
  console.log(`${`start-up store work (${records}, ${openReservations} open)`.padEnd(52)} ${startupMs.toFixed(0).padStart(10)} ms  (open the store, read the open reservations)`);
  console.log(`${`one-time migration of open reservations (${records})`.padEnd(52)} ${migrationMs.toFixed(0).padStart(10)} ms  (a store from before their records)`);
  await restarted.storage.close();

  // The real bot on the same store: its whole start-up reconciliation (every open reservation
  // here has no job, so each is refunded) before it goes online.
  const world = await startWorld({ STORE_URL: url, LOG_LEVEL: 'info' });
  const resumed = world.bot.entries.find((entry) => entry.msg === 'resumed after restart');
  console.log(`${`bot start-up reconciliation (${records}, ${openReservations} open)`.padEnd(52)} ${String(resumed?.reconcileMs).padStart(10)} ms  (${resumed?.refunded} refunded)`);
  await world.close();
  await rm(dir, { recursive: true, force: true });
}

console.log(`pika-discord benchmarks on Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
console.log(`\nBeside a bare discord.js bot (bench/bare-bot.mjs), each against its own local Discord and Pika:`);
const { bare, project, bareWithHeapSetting } = await measureSideBySide();
console.log(sideBySideTable(bare, project, bareWithHeapSetting));
console.log('\npika-discord alone:');
benchRendering();
benchLogger();
await benchScheduler();
await benchMemoryPerTask();
await benchReservations();
await benchStartupReconciliation();
await benchSimultaneousDeliveries();
