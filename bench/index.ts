/**
 * `npm run bench`: prints the figures behind the bot's speed and memory targets. Figures, not
 * pass/fail: timing assertions flake on a busy machine, so tests don't make them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderDelivery, renderProgress, toDisplayRequest } from '../src/discord/messages.js';
import type { ReplyWriter } from '../src/discord/replies.js';
import { createLogger } from '../src/logger.js';
import { checkGenerationOptions } from '../src/pika/request.js';
import { PollScheduler } from '../src/tasks/scheduler.js';
import { Storage } from '../src/storage.js';
import { TaskService } from '../src/tasks/task-service.js';
import { GuildSettingsStore } from '../src/usage/guild-settings.js';
import { UsageService } from '../src/usage/usage-service.js';
import { KeyvUsageBackend } from '../src/usage/usage-store.js';
import type { TaskRecord, TaskStore } from '../src/tasks/task-store.js';

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
    renderProgress(display, { status: 'Generating', progress: i % 100, posterUrl: undefined }, i);
  });
  measure('render delivery', 20_000, (i) => {
    renderDelivery(display, '1', { seed: i, durationSeconds: 5, resultUrl: 'https://x/y.mp4', sizeBytes: 1, attachmentName: 'a.mp4' }, i);
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
  const records = new Map<string, TaskRecord>();
  const store = {
    save: async (r: TaskRecord) => records.set(r.id, structuredClone(r)),
    delete: async (id: string) => records.delete(id),
    get: async (id: string) => records.get(id),
    list: async () => [...records.values()],
  } as unknown as TaskStore;
  const replies = { edit: async () => ({ id: '1', channel_id: '2' }), deliver: async () => ({ id: '1', channel_id: '2' }), tokenUsable: () => true } as unknown as ReplyWriter;
  const scheduler = new PollScheduler({ concurrency: 8, onError: () => {} });
  let ids = 0;
  const service = new TaskService({
    config: { pollIntervalMs: 3_600_000, taskTimeoutMs: 7_200_000, progressEditIntervalMs: 3000, maxVideoBytes: 1, imageTransport: 'url', maxImageBytes: 1 },
    pika: { generate: async () => `task-${ids++}`, feed: async () => ({ id: '', videos: [] }) },
    replies,
    store,
    usage: { settle: async () => true, openReservations: async () => [], repair: async () => 0 },
    scheduler,
    logger: createLogger({ level: 'error', secrets: [], write: () => {} }),
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
    });
  }
  globalThis.gc?.();
  const perTask = (process.memoryUsage().heapUsed - before) / tasks;
  console.log(`${`memory per in-flight task (${tasks} tasks${globalThis.gc ? '' : ', no --expose-gc'})`.padEnd(52)} ${(perTask / 1024).toFixed(1).padStart(10)} KiB`);
  scheduler.stop();
}

/** The burst path: check-and-reserve over SQLite, 500 commands at once from 500 users. */
async function benchReservations(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pika-bench-'));
  const storage = await Storage.open(`sqlite://${join(dir, 'bench.sqlite')}`);
  const usage = new UsageService({
    backend: new KeyvUsageBackend(storage.namespace('usage')),
    settings: new GuildSettingsStore(storage.namespace('settings')),
    operator: { ownerIds: new Set(), defaults: { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 0, maxConcurrent: 2, serverDailyCap: null }, globalDailyCap: null, allowDms: false },
  });
  await usage.reserve('guild', 'warm-up');
  const start = performance.now();
  await Promise.all(Array.from({ length: 500 }, (_, i) => usage.reserve('guild', `user-${i}`)));
  const ms = performance.now() - start;
  console.log(`${'reserve over SQLite: 500 commands at once'.padEnd(52)} ${ms.toFixed(0).padStart(10)} ms in all  (${((ms * 1000) / 500).toFixed(0)} µs each)`);
  await storage.close();
  await rm(dir, { recursive: true, force: true });
}

console.log(`pika-discord benchmarks on Node ${process.version}`);
benchRendering();
benchLogger();
await benchScheduler();
await benchMemoryPerTask();
await benchReservations();
