import type Keyv from 'keyv';
import { isRedisUrl } from './config.js';
import type { Logger } from './logger.js';
import type { KeyedMutex } from './util/keyed-mutex.js';
import type { BreakerStateStore } from './pika/breaker-state.js';
import type { RedisBus } from './redis-bus.js';
import { SqliteStore } from './sqlite-store.js';
import type { GuildSettingsRecords } from './usage/guild-settings-records.js';
import type { UsageBackend } from './usage/usage-store.js';

/**
 * What the bot keeps, and what its processes share: SQLite by default (one process, so all of it
 * lives in that process), or Redis (any number of processes on one store). Callers never ask
 * which: each part behaves the same for one process on either.
 */
export interface Store {
  /** Records by namespace. */
  namespace(name: string): Keyv;
  usageBackend(): UsageBackend;
  /** The state of the circuit breaker `name` (e.g. 'generate'): every process on the store opens, probes and closes it together. */
  breakerState(name: string): BreakerStateStore;
  /** The servers' settings, changed atomically, with word of each change to every process (for GuildSettingsStore). */
  guildSettingsRecords(): GuildSettingsRecords;
  /**
   * True for the first claim of `key` in any process on the store, false for every other claim
   * until `ttlMs` have passed (then it may be claimed again). Rejects when the store cannot be
   * reached in time (a StoreTimeoutError, or the client's error: `isStoreError` knows both).
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Resolves once the store answers (for readiness); rejects when it does not, within a second or two. */
  ping(): Promise<void>;
  /** Runs read-modify-writes of records one at a time per key, across every process on the store. */
  mutex(): Pick<KeyedMutex, 'runExclusive'>;
  /** Word between the processes sharing the store (Redis pub/sub); absent where one process has it to itself. */
  readonly bus?: Pick<RedisBus, 'publish' | 'subscribe'>;
  /** Closes every connection (the subscriber and pools of a Redis store too). */
  close(): Promise<void>;
}

/** Opens the store `STORE_URL` names: `sqlite://path` (the default) or `redis://` / `rediss://`. */
export async function openStore(url: string, logger: Logger): Promise<Store> {
  if (isRedisUrl(url)) {
    // Loaded only here: a bot on SQLite carries none of the Redis clients.
    const { RedisStore } = await import('./redis-store.js');
    return RedisStore.open(url, {
      connectionFailed: (error) => logger.warn('the Redis connection failed; reconnecting', { error }),
      notRecorded: (what, error) => logger.warn(`could not record ${what} in Redis`, { error }),
    });
  }
  return SqliteStore.open(url, logger);
}
