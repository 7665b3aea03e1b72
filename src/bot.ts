import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Events, GatewayIntentBits, RESTEvents, type RESTOptions } from 'discord.js';
import { commands } from '../commands/index.js';
import { components } from '../components/index.js';
import { isRedisUrl, type Config } from './config.js';
import { processClock } from './clock.js';
import type { AppContext } from './context.js';
import { registerCommands } from './discord/register.js';
import { resolveShards } from './discord/shards.js';
import { ReplyWriter } from './discord/replies.js';
import { InteractionAwareREST } from './discord/rest.js';
import { InteractionRouter } from './discord/router.js';
import type { Logger } from './logger.js';
import { CircuitBreaker } from './pika/circuit-breaker.js';
import { PikaClient } from './pika/client.js';
import { BotMetrics } from './ops/metrics.js';
import { startOpsServer } from './ops/ops-server.js';
import { openStore } from './store.js';
import { Admission } from './jobs/admission.js';
import { PollScheduler } from './jobs/scheduler.js';
import { JobService } from './jobs/job-service.js';
import { JobStore } from './jobs/job-store.js';
import { HistoryRetention } from './jobs/retention.js';
import { migrateLegacyTasks } from './jobs/legacy-tasks.js';
import { Reconciler } from './jobs/reconciler.js';
import { CancelRelay } from './jobs/cancel-relay.js';
import { downloadToFile, transferTimeoutMs } from './download.js';
import { createMediaDispatcher } from './net/media-guard.js';
import { resolveImageRefs } from './pika/images.js';
import { sanitizeUpstreamMessage } from './pika/errors.js';
import { ByteBudget } from './util/byte-budget.js';
import { AuditLog } from './moderation/audit-log.js';
import { SettingsEditor } from './moderation/settings-edits.js';
import { GuildSettingsStore } from './usage/guild-settings.js';
import { UsageService } from './usage/usage-service.js';

export interface RunningBot {
  client: Client;
  /** Stops taking commands, lets in-flight state settle, closes the gateway and the store. */
  shutdown(): Promise<void>;
}

const INTERACTION_LIFETIME_MS = 15 * 60_000;
/** A job's claim to its one generate call outlives any job (queued, then polled up to TASK_TIMEOUT_MS). */
const GENERATE_CLAIM_MS = 3 * 24 * 3600_000;
/** How long shutdown waits for deliveries already under way. */
const DRAIN_TIMEOUT_MS = 7000;
/** Deliveries (download, then upload) in progress at once. */
const DELIVERY_CONCURRENCY = 8;
/** Bytes of videos being transferred at once (on disk, not in memory). */
const DELIVERY_BUDGET_BYTES = 1024 * 1024 * 1024;
/** Slowest CDN download we wait for, to size the video download timeout. */
const VIDEO_DOWNLOAD_SPEED = { baseMs: 30_000, bytesPerSecond: 512 * 1024 };
/** A download that sends nothing for this long is stalled: retried rather than waited for. */
const VIDEO_STALL_TIMEOUT_MS = 20_000;
const IMAGE_DOWNLOAD_TIMEOUT_MS = 20_000;
/**
 * A reservation this young may belong to a command whose job is still being created (its
 * deferral can take a while when Discord is slow), so reconciliation leaves it alone.
 */
const RECONCILE_GRACE_MS = 10 * 60_000;

/** The composition root: builds every service around the config and logs in. */
export async function startBot(config: Config, logger: Logger, redact: (text: string) => string): Promise<RunningBot> {
  const storage = await openStore(config.storeUrl, logger);
  const now = processClock;
  const runsGateway = config.role !== 'worker';
  const worksJobs = config.role !== 'gateway';
  // A store other processes share carries jobs through the shared pipeline, whichever process took the command.
  const pipeline = isRedisUrl(config.storeUrl)
    ? await (await import('./jobs/job-pipeline.js')).JobPipeline.open(config.storeUrl, { lockMs: config.jobLockMs, concurrency: config.workerConcurrency, logger }).catch(async (error: unknown) => {
        await storage.close();
        throw error;
      })
    : undefined;

  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: config.discordApiUrl ? { api: config.discordApiUrl } : {},
  });
  const restOptions: Partial<RESTOptions> = client.options.rest ?? {};
  const rest = new InteractionAwareREST(restOptions);
  client.rest = rest;
  for (const manager of [rest, rest.interactionRest]) {
    manager.on(RESTEvents.RateLimited, (info) =>
      logger.debug('discord rate limit', { route: info.route, retryAfter: info.retryAfter, global: info.global }),
    );
  }

  const pika = new PikaClient({
    baseUrl: config.pikaApiUrl,
    apiKey: config.pikaApiKey,
    generateTimeoutMs: config.generateTimeoutMs,
    feedTimeoutMs: config.feedTimeoutMs,
    redact,
  });
  // Read at each scrape, by when the services below exist.
  const metrics = new BotMetrics({ jobsByState: () => jobs.countByState(), queueLength: () => jobs.queueLength(), breakerState: () => breaker.state });
  // Timed at the edges of the store, so the domain code knows nothing of metrics.
  const claims = metrics.timedStore(storage, { claimOnce: 'claim' });
  const countedPika = {
    generate: BotMetrics.counted(metrics.generateCalls, (body: Parameters<PikaClient['generate']>[0]) => pika.generate(body), 'accepted'),
    feed: BotMetrics.counted(metrics.feedPolls, (taskId: string) => pika.feed(taskId)),
  };
  for (const manager of [rest, rest.interactionRest]) manager.on(RESTEvents.Response, (_request, response) => metrics.discordAnswered(response.status));
  const scheduler = new PollScheduler({
    concurrency: config.pollConcurrency,
    now,
    onError: (error) => logger.error('poll failed unexpectedly', { error }),
  });
  const settings = new GuildSettingsStore(metrics.timedStore(storage.guildSettingsRecords(), { get: 'settings_get', update: 'settings_update' }));
  const usage = new UsageService({
    // A decided transaction is timed until its writes are stored, like any other.
    backend: metrics.timedStore(storage.usageBackend(), {
      transact: 'usage_transact',
      decide: { operation: 'usage_transact', until: (decided) => decided.stored },
      get: 'usage_get',
    }),
    settings,
    operator: config.limits,
    now,
  });
  const audit = new AuditLog(rest, settings, logger);
  const replies = new ReplyWriter({ rest, apiUrl: client.options.rest?.api ?? 'https://discord.com/api', botToken: config.discordToken, now });
  const mediaDispatcher = createMediaDispatcher(config.allowedPrivateMediaHosts);
  const downloads = await mkdtemp(join(tmpdir(), 'pika-discord-videos-'));
  const jobStore = metrics.timedStore(new JobStore(storage.namespace('jobs'), storage.namespace('job-index'), storage.mutex()), {
    get: 'job_get',
    save: 'job_save',
    change: 'job_change',
    history: 'job_history',
  });
  const deliveryScheduler = new PollScheduler({
    concurrency: DELIVERY_CONCURRENCY,
    now,
    onError: (error) => logger.error('delivery failed unexpectedly', { error }),
  });
  const breaker = new CircuitBreaker(
    {
      threshold: config.breakerThreshold,
      coolDownMs: config.breakerCoolDownMs,
      // A probe's hold lapses if its process dies mid-call, so the others are not shut out for ever.
      probeLeaseMs: config.generateTimeoutMs + IMAGE_DOWNLOAD_TIMEOUT_MS + 30_000,
      now,
    },
    storage.breakerState('generate'),
  );
  const jobs: JobService = new JobService({
    config: { ...config, upstreamConcurrency: config.limits.upstreamConcurrency },
    // The admission is made below; the queue asks it only once a job's turn comes.
    gate: { recheck: (job) => admission.recheck(job), ticket: async () => (await breaker.admit()) ?? undefined },
    ...(pipeline ? { pipeline, claimGenerate: (id: string) => claims.claimOnce(`generate:${id}`, GENERATE_CLAIM_MS) } : {}),
    pika: countedPika,
    resolveImages: (request) =>
      resolveImageRefs(request.images, {
        transport: config.imageTransport,
        maxImageBytes: config.maxImageBytes,
        downloadTimeoutMs: IMAGE_DOWNLOAD_TIMEOUT_MS,
        dispatcher: mediaDispatcher,
      }),
    replies,
    store: jobStore,
    usage,
    pollScheduler: scheduler,
    deliveryScheduler,
    poller: { config, pika: countedPika, replies, sanitize: (text) => sanitizeUpstreamMessage(text, redact) ?? '' },
    delivery: {
      config: {
        maxVideoBytes: config.maxVideoBytes,
        deliveryRetryMs: config.deliveryRetryMs,
        downloadRetryMs: config.resultDownloadRetryMs,
        retryBaseMs: config.deliveryRetryBaseMs,
      },
      replies,
      fetchVideo: (url, maxBytes) =>
        downloadToFile(url, {
          maxBytes,
          timeoutMs: transferTimeoutMs(maxBytes, VIDEO_DOWNLOAD_SPEED),
          // A stalled transfer is worth abandoning well within the window for retries.
          stallTimeoutMs: Math.min(VIDEO_STALL_TIMEOUT_MS, Math.max(1000, config.resultDownloadRetryMs / 2)),
          dispatcher: mediaDispatcher,
          dir: downloads,
        }),
      budget: new ByteBudget(Math.max(DELIVERY_BUDGET_BYTES, config.maxVideoBytes)),
    },
    logger,
    now,
  });
  const reconciler = new Reconciler({ usage, store: jobStore, jobs, logger, now });
  jobs.events.on('started', (job) => {
    // A job that never waited started as it was made: a wait of 0, so the histogram counts every start.
    // Clamped: a job queued by another process, or before a restart, was timed on that process's clock.
    metrics.queueWait.observe(Math.max(0, (job.startedAt ?? job.createdAt) - job.createdAt) / 1000);
  });
  jobs.events.on('ended', (job) => {
    metrics.jobsEnded.inc({ state: job.state });
    // Both ends on this process's clock only when one process finished and posted it.
    const latencyMs = job.state === 'delivered' && job.result && job.endedAt !== undefined ? job.endedAt - job.result.finishedAt : -1;
    if (latencyMs >= 0 && latencyMs < 86_400_000) metrics.deliveryLatency.observe(latencyMs / 1000);
  });
  jobs.events.on('ended', (job) => {
    // Only a server that installed the bot has an audit log (its scope is the server itself).
    if (job.state !== 'delivered' || !job.reply.guildId || job.reservation.guildId !== job.reply.guildId) return;
    void audit.generation({
      guildId: job.reply.guildId,
      userId: job.reply.requesterId,
      kind: job.request.kind,
      prompt: job.request.prompt,
      seed: job.outcome?.seed,
      messageUrl: job.outcome?.messageUrl,
      guildLocale: job.guildLocale,
    });
  });
  const admission: Admission = new Admission({
    usage,
    settings,
    breaker,
    queue: { maxQueuedPerUser: config.limits.maxQueuedPerUser, upstreamFull: () => jobs.upstreamFull() },
  });
  const editor = new SettingsEditor(settings, audit, logger);
  const cancels = new CancelRelay(jobs, storage.bus, logger);
  await cancels.start();
  const ctx: AppContext = { config, logger, jobs, admission, usage, settings, audit, editor, cancels };
  // An interaction token lives 15 minutes: no copy of the interaction can arrive later than that.
  const router = new InteractionRouter(commands, components, ctx, (id) => claims.claimOnce(`interaction:${id}`, INTERACTION_LIFETIME_MS));

  // A worker alone has no gateway: it writes progress and videos with the interaction token, or in the channel.
  if (runsGateway) client.on(Events.InteractionCreate, (interaction) => void router.handle(interaction));
  client.on(Events.Error, (error) => logger.error('discord client error', { error }));
  client.on(Events.ShardDisconnect, (event) => logger.warn('gateway disconnected', { code: event.code }));
  client.once(Events.ClientReady, async (ready) => {
    logger.info('logged in', { user: ready.user.tag, guilds: ready.guilds.cache.size });
    try {
      const outcome = await registerCommands(ready.application, commands, config.devGuildId);
      logger.info('slash commands checked', outcome);
    } catch (error) {
      logger.error('could not register slash commands', { error });
    }
  });

  // Before any command can arrive: tasks of a previous run continue (their replies are written
  // over REST, so the gateway is not needed), and allowances held by tasks that are gone are
  // refunded. A command racing this could otherwise have its fresh reservation taken for a stray.
  rest.setToken(config.discordToken);
  const reconcileStart = performance.now();
  await migrateLegacyTasks(storage.namespace('tasks'), jobStore, config.defaults, logger);
  // Other processes sharing the store may be admitting commands right now: their young reservations are spared.
  const recovered = await reconciler.run(pipeline ? RECONCILE_GRACE_MS : 0);
  logger.info('resumed after restart', { ...recovered, reconcileMs: Math.round(performance.now() - reconcileStart) });
  reconciler.startPeriodic(config.reconcileIntervalMs, RECONCILE_GRACE_MS);
  const history = new HistoryRetention(jobStore, config.jobRetentionDays, logger, now);
  history.start();
  if (runsGateway) {
    Object.assign(client.options, await resolveShards(config.shards, rest));
    logger.info('connecting to the gateway', { role: config.role, shards: client.options.shards, shardCount: client.options.shardCount });
    await client.login(config.discordToken);
  }
  const ops = config.metrics
    ? await startOpsServer({
        ...config.metrics,
        registry: metrics.registry,
        ready: async () => ({
          ...(runsGateway ? { gateway: client.isReady() } : {}),
          store: await storage.ping().then(
            () => true,
            () => false,
          ),
        }),
      })
    : undefined;
  if (ops) logger.info('operations endpoints listening', { host: config.metrics!.host, port: ops.port, paths: ['/health', '/ready', '/metrics'] });
  // Only once the process is sure to run: a worker that took jobs and then failed to start would cut their starts off.
  if (pipeline && worksJobs) pipeline.startWorking(jobs);
  if (!runsGateway) logger.info('working jobs without a gateway', { role: config.role });

  return {
    client,
    async shutdown() {
      router.stopAccepting();
      await ops?.close();
      scheduler.stop();
      deliveryScheduler.stop();
      history.stop();
      await reconciler.stop();
      // The pipeline gives this process no new job from here; the ones it carries go back once the service has stopped.
      const workStopped = pipeline?.stopWorking();
      await Promise.race([jobs.stop(), new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref())]);
      // What the drain finished, and what it did not, goes back to the pipeline for a worker that stays.
      jobs.handBack();
      await workStopped;
      await pipeline?.close();
      await rm(downloads, { recursive: true, force: true });
      await mediaDispatcher.close();
      await client.destroy();
      await pika.close();
      await Promise.race([breaker.reported(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      await storage.close();
    },
  };
}
