import dotenv from 'dotenv';
import { isAddressOrRange } from './net/media-guard.js';

/** Aspect ratios the API accepts, as Discord choice names. */
export const ASPECT_RATIOS = ['16:9', '9:16', '1:1', '4:5', '4:3', '3:4', '5:2'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];
export const MODELS = ['1.5', '2.0'] as const;
export type Model = (typeof MODELS)[number];
export const INGREDIENTS_MODES = ['precise', 'creative'] as const;
export type IngredientsMode = (typeof INGREDIENTS_MODES)[number];
export const IMAGE_TRANSPORTS = ['url', 'base64'] as const;
export type ImageTransport = (typeof IMAGE_TRANSPORTS)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** What one process runs: the gateway (takes commands and clicks), the job worker (makes and posts videos), or both. */
export const BOT_ROLES = ['gateway', 'worker', 'all'] as const;
export type BotRole = (typeof BOT_ROLES)[number];
/** Gateway shards: how many the bot has in all (`auto`: Discord's recommendation), and which this process runs (null: all). */
export interface ShardPlan {
  count: number | 'auto';
  ids: number[] | null;
}
const MAX_SHARDS = 4096;

/** Bounds of the generation parameters, shared by the command definitions and the config checks. */
export const PARAMETER_RANGES = {
  frameRate: { min: 8, max: 24 },
  guidanceScale: { min: 5, max: 25 },
  motion: { min: 0, max: 4 },
} as const;

export interface GenerationDefaults {
  model: Model;
  aspectRatio: AspectRatio;
  frameRate: number;
  guidanceScale: number;
  motion: number;
  ingredientsMode: IngredientsMode;
}

export interface Config {
  discordToken: string;
  /** REST base including `/api`; undefined means Discord itself. */
  discordApiUrl: string | undefined;
  devGuildId: string | undefined;
  pikaApiUrl: string;
  pikaApiKey: string;
  storeUrl: string;
  pollIntervalMs: number;
  pollConcurrency: number;
  taskTimeoutMs: number;
  progressEditIntervalMs: number;
  generateTimeoutMs: number;
  feedTimeoutMs: number;
  breakerThreshold: number;
  breakerCoolDownMs: number;
  logLevel: LogLevel;
  imageTransport: ImageTransport;
  maxImageBytes: number;
  maxVideoBytes: number;
  /** IP addresses and CIDR ranges on the operator's network that media may be downloaded from. */
  allowedPrivateMediaHosts: string[];
  /** How long ended jobs are kept as history. */
  jobRetentionDays: number;
  /** How long a finished video's delivery is retried through a Discord outage. */
  deliveryRetryMs: number;
  /** First pause between delivery retries (doubles up to a minute). */
  deliveryRetryBaseMs: number;
  /** How long a failing result download is retried before the sharing URL, then a link. */
  resultDownloadRetryMs: number;
  /** How often usage reservations are reconciled with jobs while the bot runs. */
  reconcileIntervalMs: number;
  role: BotRole;
  shards: ShardPlan;
  /**
   * How long a worker's hold on a job lasts without renewal (Redis only): a worker killed with
   * -9 has its jobs taken over by another about this long after (plus half of it for the check).
   */
  jobLockMs: number;
  /** Jobs one worker process carries at once (Redis only); most of their time is spent waiting on the provider. */
  workerConcurrency: number;
  /** Where /health, /ready and /metrics are served; null: not at all. */
  metrics: { port: number; host: string } | null;
  defaults: GenerationDefaults;
  limits: OperatorLimits;
}

/** The operator's side of usage limits: who bypasses them, and what a server starts with. */
export interface OperatorLimits {
  ownerIds: ReadonlySet<string>;
  /** The rules of a server whose moderators changed nothing. */
  defaults: {
    dailyLimit: number | null;
    weeklyLimit: number | null;
    cooldownSeconds: number;
    maxConcurrent: number | null;
    serverDailyCap: number | null;
  };
  /** Videos per UTC day across all servers: the operator's bill ceiling (null = none). */
  globalDailyCap: number | null;
  allowDms: boolean;
  /** Commands waiting for a slot that each user may have queued, not counting those in progress. */
  maxQueuedPerUser: number;
  /** Tasks running at the provider at once across all users (null = no limit). */
  upstreamConcurrency: number | null;
  /** The rules for the app installed to a user's own account, used outside servers that installed the bot. */
  userInstall: { dailyLimit: number | null; weeklyLimit: number | null };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const MIB = 1024 * 1024;

/**
 * Reads the configuration from `env`, collecting every problem before failing so an operator
 * fixes them all in one go. Values of secrets never appear in the problems.
 */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const problems: string[] = [];
  const reader = new EnvReader(env, problems);

  // Off unless set; 0 picks a free port (it is logged).
  const metricsPort = reader.optionalInteger('METRICS_PORT', 0, 65_535);
  const config: Config = {
    discordToken: reader.secret('DISCORD_TOKEN'),
    discordApiUrl: reader.optionalUrl('DISCORD_API_URL'),
    devGuildId: reader.optionalSnowflake('DEV_GUILD_ID'),
    pikaApiUrl: reader.url('PIKA_API_URL'),
    pikaApiKey: reader.secret('PIKA_API_KEY'),
    storeUrl: reader.string('STORE_URL', 'sqlite://data/pika.sqlite'),
    pollIntervalMs: reader.integer('POLL_INTERVAL_MS', 5000, 10, 600_000),
    pollConcurrency: reader.integer('POLL_CONCURRENCY', 8, 1, 256),
    taskTimeoutMs: reader.integer('TASK_TIMEOUT_MS', 15 * 60_000, 1000, 24 * 3600_000),
    progressEditIntervalMs: reader.integer('PROGRESS_EDIT_INTERVAL_MS', 3000, 0, 600_000),
    generateTimeoutMs: reader.integer('PIKA_GENERATE_TIMEOUT_MS', 60_000, 100, 600_000),
    feedTimeoutMs: reader.integer('PIKA_FEED_TIMEOUT_MS', 15_000, 100, 600_000),
    breakerThreshold: reader.integer('PIKA_BREAKER_THRESHOLD', 5, 1, 1000),
    breakerCoolDownMs: reader.integer('PIKA_BREAKER_COOLDOWN_MS', 60_000, 100, 60_000),
    logLevel: reader.choice('LOG_LEVEL', LOG_LEVELS, 'info'),
    imageTransport: reader.choice('PIKA_IMAGE_TRANSPORT', IMAGE_TRANSPORTS, 'url'),
    maxImageBytes: reader.integer('MAX_IMAGE_BYTES', 10 * MIB, 1, 100 * MIB),
    maxVideoBytes: reader.integer('MAX_VIDEO_BYTES', 200 * MIB, 1, 2048 * MIB),
    allowedPrivateMediaHosts: reader.addressRangeList('ALLOWED_PRIVATE_MEDIA_HOSTS'),
    jobRetentionDays: reader.integer('JOB_RETENTION_DAYS', 30, 1, 3650),
    deliveryRetryMs: reader.number('DELIVERY_RETRY_HOURS', 24, 0.0001, 24 * 14) * 3600_000,
    deliveryRetryBaseMs: reader.integer('DELIVERY_RETRY_BASE_MS', 1000, 10, 60_000),
    resultDownloadRetryMs: reader.number('RESULT_DOWNLOAD_RETRY_SECONDS', 300, 0, 3600) * 1000,
    reconcileIntervalMs: reader.integer('RECONCILE_INTERVAL_MS', 60_000, 100, 3600_000),
    role: reader.choice('BOT_ROLE', BOT_ROLES, 'all'),
    shards: { count: reader.shardCount('SHARD_COUNT'), ids: reader.shardIds('SHARD_IDS') },
    // At most 20 s, so a dead worker's jobs are taken over within 30 s.
    jobLockMs: reader.integer('JOB_LOCK_MS', 10_000, 500, 20_000),
    workerConcurrency: reader.integer('WORKER_CONCURRENCY', 500, 1, 10_000),
    metrics: metricsPort === undefined ? null : { port: metricsPort, host: reader.string('METRICS_HOST', '127.0.0.1') },
    defaults: {
      model: reader.choice('DEFAULT_MODEL', MODELS, '1.5'),
      aspectRatio: reader.choice('DEFAULT_ASPECT_RATIO', ASPECT_RATIOS, '16:9'),
      frameRate: reader.integer('DEFAULT_FRAME_RATE', 24, PARAMETER_RANGES.frameRate.min, PARAMETER_RANGES.frameRate.max),
      guidanceScale: reader.number(
        'DEFAULT_GUIDANCE_SCALE',
        12,
        PARAMETER_RANGES.guidanceScale.min,
        PARAMETER_RANGES.guidanceScale.max,
      ),
      motion: reader.integer('DEFAULT_MOTION', 1, PARAMETER_RANGES.motion.min, PARAMETER_RANGES.motion.max),
      ingredientsMode: reader.choice('DEFAULT_INGREDIENTS_MODE', INGREDIENTS_MODES, 'precise'),
    },
    limits: {
      ownerIds: new Set(reader.snowflakeList('OWNER_IDS')),
      defaults: {
        dailyLimit: reader.limit('DEFAULT_DAILY_LIMIT', 5),
        weeklyLimit: reader.limit('DEFAULT_WEEKLY_LIMIT', 20),
        cooldownSeconds: reader.integer('DEFAULT_COOLDOWN_SECONDS', 60, 0, 86_400),
        maxConcurrent: reader.limit('DEFAULT_MAX_CONCURRENT', 2),
        serverDailyCap: reader.limit('DEFAULT_SERVER_DAILY_CAP', null),
      },
      globalDailyCap: reader.limit('GLOBAL_DAILY_CAP', null),
      allowDms: reader.boolean('ALLOW_DMS', false),
      maxQueuedPerUser: reader.integer('MAX_QUEUED_PER_USER', 3, 0, 100),
      upstreamConcurrency: reader.limit('PIKA_MAX_CONCURRENT', null),
      userInstall: {
        dailyLimit: reader.limit('USER_INSTALL_DAILY_LIMIT', 3),
        weeklyLimit: reader.limit('USER_INSTALL_WEEKLY_LIMIT', 10),
      },
    },
  };

  if (config.limits.upstreamConcurrency === 0) problems.push('PIKA_MAX_CONCURRENT must be at least 1, or "unlimited"');
  const { count, ids } = config.shards;
  const outOfRange = typeof count === 'number' ? (ids ?? []).filter((id) => id >= count) : [];
  if (outOfRange.length > 0) problems.push(`SHARD_IDS must be below SHARD_COUNT (${count}); not valid: ${outOfRange.join(', ')}`);
  // On SQLite one process does everything: a gateway alone would take commands no worker ever makes.
  if (config.role !== 'all' && !isRedisUrl(config.storeUrl)) problems.push(`BOT_ROLE must be all on SQLite, where one process runs everything; "${config.role}" needs a shared store (STORE_URL=redis://…)`);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Whether `url` names a Redis store (`redis://` or `rediss://`), which several processes can share. */
export function isRedisUrl(url: string): boolean {
  return /^rediss?:\/\//i.test(url);
}

/** Loads `.env` (real environment variables win) and parses the result. */
export function loadConfig(): Config {
  dotenv.config({ quiet: true });
  return parseConfig(process.env);
}

class EnvReader {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly problems: string[],
  ) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  secret(name: string): string {
    const value = this.raw(name);
    if (value === undefined) this.problems.push(`${name} is required (see .env.example)`);
    return value ?? '';
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  url(name: string): string {
    const value = this.raw(name);
    if (value === undefined) {
      this.problems.push(`${name} is required (see .env.example)`);
      return '';
    }
    return this.checkUrl(name, value);
  }

  optionalUrl(name: string): string | undefined {
    const value = this.raw(name);
    return value === undefined ? undefined : this.checkUrl(name, value);
  }

  private checkUrl(name: string, value: string): string {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      this.problems.push(`${name} must be an http(s) URL`);
      return '';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.problems.push(`${name} must be an http(s) URL`);
      return '';
    }
    return value.replace(/\/+$/, '');
  }

  optionalSnowflake(name: string): string | undefined {
    const value = this.raw(name);
    if (value !== undefined && !/^\d{17,20}$/.test(value)) {
      this.problems.push(`${name} must be a Discord id (17 to 20 digits), got "${value}"`);
    }
    return value;
  }

  snowflakeList(name: string): string[] {
    const ids = (this.raw(name) ?? '').split(/[\s,]+/).filter(Boolean);
    const bad = ids.filter((id) => !/^\d{17,20}$/.test(id));
    if (bad.length > 0) this.problems.push(`${name} must be Discord user ids separated by commas; not ids: ${bad.join(', ')}`);
    return ids.filter((id) => !bad.includes(id));
  }

  addressRangeList(name: string): string[] {
    const entries = (this.raw(name) ?? '').split(/[\s,]+/).filter(Boolean);
    const bad = entries.filter((entry) => !isAddressOrRange(entry));
    if (bad.length > 0) {
      this.problems.push(`${name} must be IP addresses or CIDR ranges (e.g. 192.168.1.20, 10.0.0.0/8, fd00::/8) separated by commas; not valid: ${bad.join(', ')}`);
    }
    return entries.filter((entry) => !bad.includes(entry));
  }

  /** A count limit: a whole number from 0, or `unlimited` (null). */
  limit(name: string, fallback: number | null): number | null {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (raw.toLowerCase() === 'unlimited') return null;
    if (!/^\d+$/.test(raw) || Number(raw) > 1_000_000) {
      this.problems.push(`${name} must be a whole number from 0 to 1000000, or "unlimited", got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  }

  optionalInteger(name: string, min: number, max: number): number | undefined {
    return this.raw(name) === undefined ? undefined : this.integer(name, min, min, max);
  }

  shardCount(name: string): number | 'auto' {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined || raw === 'auto') return 'auto';
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_SHARDS) {
      this.problems.push(`${name} must be "auto" or a whole number from 1 to ${MAX_SHARDS}, got "${raw}"`);
      return 'auto';
    }
    return Number(raw);
  }

  shardIds(name: string): number[] | null {
    const raw = this.raw(name);
    if (raw === undefined) return null;
    const entries = raw.split(/[\s,]+/).filter(Boolean);
    const bad = entries.filter((entry) => !/^\d+$/.test(entry) || Number(entry) >= MAX_SHARDS);
    if (bad.length > 0 || entries.length === 0) {
      this.problems.push(`${name} must be shard numbers separated by commas (e.g. 0,1); not valid: ${bad.join(', ') || raw}`);
      return null;
    }
    return [...new Set(entries.map(Number))].sort((a, b) => a - b);
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.number(name, fallback, min, max);
    if (!Number.isInteger(value)) this.problems.push(`${name} must be a whole number`);
    return value;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      this.problems.push(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }
}
