import { Client, Events, GatewayIntentBits, RESTEvents, type RESTOptions } from 'discord.js';
import { commands } from '../commands/index.js';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { registerCommands } from './discord/register.js';
import { ReplyWriter } from './discord/replies.js';
import { InteractionAwareREST } from './discord/rest.js';
import { InteractionRouter } from './discord/router.js';
import type { Logger } from './logger.js';
import { CircuitBreaker } from './pika/circuit-breaker.js';
import { PikaClient } from './pika/client.js';
import { Storage } from './storage.js';
import { Admission } from './tasks/admission.js';
import { PollScheduler } from './tasks/scheduler.js';
import { TaskService } from './tasks/task-service.js';
import { TaskStore } from './tasks/task-store.js';
import { AuditLog } from './moderation/audit-log.js';
import { SettingsEditor } from './moderation/settings-edits.js';
import { GuildSettingsStore } from './usage/guild-settings.js';
import { UsageService } from './usage/usage-service.js';
import { KeyvUsageBackend } from './usage/usage-store.js';

export interface RunningBot {
  client: Client;
  /** Stops taking commands, lets in-flight state settle, closes the gateway and the store. */
  shutdown(): Promise<void>;
}

/** How long shutdown waits for deliveries already under way. */
const DRAIN_TIMEOUT_MS = 7000;

/** The composition root: builds every service around the config and logs in. */
export async function startBot(config: Config, logger: Logger, redact: (text: string) => string): Promise<RunningBot> {
  const storage = await Storage.open(config.storeUrl);

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
  const scheduler = new PollScheduler({
    concurrency: config.pollConcurrency,
    onError: (error) => logger.error('poll failed unexpectedly', { error }),
  });
  const settings = new GuildSettingsStore(storage.namespace('guild-settings'));
  const usage = new UsageService({
    backend: new KeyvUsageBackend(storage.namespace('usage')),
    settings,
    operator: config.limits,
  });
  const audit = new AuditLog(rest, settings, logger);
  const tasks = new TaskService({
    config,
    pika,
    replies: new ReplyWriter({ rest, restOptions, botToken: config.discordToken, logger }),
    store: new TaskStore(storage.namespace('tasks')),
    usage,
    scheduler,
    logger,
    audit,
  });
  const breaker = new CircuitBreaker({ threshold: config.breakerThreshold, coolDownMs: config.breakerCoolDownMs });
  const admission = new Admission({ usage, settings, breaker });
  const editor = new SettingsEditor(settings, audit, logger);
  const ctx: AppContext = { config, logger, tasks, admission, usage, settings, audit, editor };
  const router = new InteractionRouter(commands, ctx);

  client.on(Events.InteractionCreate, (interaction) => void router.handle(interaction));
  client.on(Events.Error, (error) => logger.error('discord client error', { error }));
  client.on(Events.ShardDisconnect, (event) => logger.warn('gateway disconnected', { code: event.code }));
  client.once(Events.ClientReady, async (ready) => {
    logger.info('logged in', { user: ready.user.tag, guilds: ready.guilds.cache.size });
    try {
      const outcome = await registerCommands(ready.application, commands, config.devGuildId, config.limits.allowDms);
      logger.info('slash commands checked', { outcome, scope: config.devGuildId ? 'guild' : 'global' });
    } catch (error) {
      logger.error('could not register slash commands', { error });
    }
  });

  // Before any command can arrive: tasks of a previous run continue (their replies are written
  // over REST, so the gateway is not needed), and allowances held by tasks that are gone are
  // refunded. A command racing this could otherwise have its fresh reservation taken for a stray.
  rest.setToken(config.discordToken);
  await tasks.resumeAll();
  await client.login(config.discordToken);

  return {
    client,
    async shutdown() {
      router.stopAccepting();
      scheduler.stop();
      await Promise.race([tasks.drain(), new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref())]);
      await client.destroy();
      await pika.close();
      await storage.close();
    },
  };
}
