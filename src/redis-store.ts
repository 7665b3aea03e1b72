import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import KeyvRedis from '@keyv/redis';
import { createClient, createClientPool, type RedisClientPoolType, type RedisClientType } from '@redis/client';
import Keyv from 'keyv';
import { RedisBreakerState } from './pika/redis-breaker-state.js';
import { RedisBus } from './redis-bus.js';
import { RedisMutex } from './redis-mutex.js';
import type { StoreHolder } from './storage.js';
import type { Store } from './store.js';
import { RedisGuildSettingsRecords } from './usage/redis-guild-settings-records.js';
import { RedisUsageBackend } from './usage/redis-usage-backend.js';
import { LISTED_USAGE_PREFIXES } from './usage/usage-service.js';
import { answerWithin } from './util/store-deadline.js';

/** Transactions of the usage store at once, each on a connection of its own (WATCH needs one). */
const POOL_SIZE = 8;
/** Settings changes at once (moderators' edits: rare), each on a connection of its own for WATCH. */
const SETTINGS_POOL_SIZE = 2;
/** A claim Redis does not answer in time is refused with "records unreachable", not left to hang. */
const CLAIM_TIMEOUT_MS = 1000;
/** The record an open writes and reads back to prove the store works; it lapses by itself. */
const OPEN_CHECK_TTL_MS = 60_000;

/** What a Redis store tells of trouble that its callers do not see. */
export interface RedisStoreEvents {
  /** A connection failed (each client reconnects by itself). */
  connectionFailed(error: unknown): void;
  /** Something other processes should have heard of could not be written (a breaker report, word of a settings change). */
  notRecorded(what: string, error: unknown): void;
}

/**
 * The bot's storage on Redis (`STORE_URL=redis://…` or `rediss://…`), opened by any number of
 * bot processes at once: records through keyv's Redis adapter (one keyv per namespace over one
 * connection), the usage store exact across processes (RedisUsageBackend), and what processes
 * share besides: the circuit breaker's state, the servers' settings with word of each change
 * (pub/sub, on a subscriber connection of its own), and claim-once keys. Nothing here assumes
 * one process: there is no lock, unlike the SQLite file's.
 */
export class RedisStore implements Store {
  private readonly spaces = new Map<string, Keyv>();
  private readonly breakers = new Map<string, RedisBreakerState>();
  private locks: RedisMutex | undefined;
  /** Made once the store is, over its own `guild-settings` namespace. */
  private settings!: RedisGuildSettingsRecords;

  private constructor(
    private readonly client: RedisClientType,
    private readonly usage: RedisUsageBackend,
    private readonly settingsPool: RedisClientPoolType,
    /** Word between the processes of this store (pub/sub). */
    readonly bus: RedisBus,
    private readonly events: RedisStoreEvents,
  ) {}

  /** Connects everything and proves the store can be written and read (any other process may have it open too). */
  static async open(url: string, events: RedisStoreEvents): Promise<RedisStore> {
    const onError = (error: unknown) => events.connectionFailed(error);
    const client: RedisClientType = createClient({ url });
    client.on('error', onError);
    const settingsPool: RedisClientPoolType = createClientPool({ url }, { minimum: 1, maximum: SETTINGS_POOL_SIZE });
    settingsPool.on('error', onError);
    let usage: RedisUsageBackend | undefined;
    let bus: RedisBus | undefined;
    try {
      await client.connect();
      await settingsPool.connect();
      usage = await RedisUsageBackend.connect(url, onError, { size: POOL_SIZE, listedPrefixes: LISTED_USAGE_PREFIXES });
      bus = await RedisBus.open(client, onError);
      const store = new RedisStore(client, usage, settingsPool, bus, events);
      store.settings = await RedisGuildSettingsRecords.open(store.namespace('guild-settings'), settingsPool, bus, (error) =>
        events.notRecorded('a settings change for the other processes', error),
      );
      const me: StoreHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      const meta = store.namespace('meta');
      // A key of this open's own: other processes opening the store now write theirs.
      const check = `opened:${randomUUID()}`;
      await meta.set(check, me, OPEN_CHECK_TTL_MS);
      if ((await meta.get<StoreHolder>(check))?.pid !== me.pid) throw new Error('a value written could not be read back');
      return store;
    } catch (error) {
      await Promise.allSettled([bus?.close(), client.isOpen ? client.close() : undefined, settingsPool.close(), usage?.close()]);
      throw new Error(`Cannot open the store at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
    }
  }

  namespace(name: string): Keyv {
    let space = this.spaces.get(name);
    if (!space) {
      space = new Keyv({ store: new KeyvRedis(this.client as never), namespace: `pika:${name}`, throwOnErrors: true });
      this.spaces.set(name, space);
    }
    return space;
  }

  usageBackend(): RedisUsageBackend {
    return this.usage;
  }

  breakerState(name: string): RedisBreakerState {
    let state = this.breakers.get(name);
    if (!state) {
      state = new RedisBreakerState(this.client, name, (error) => this.events.notRecorded(`an outcome for the ${name} circuit breaker`, error));
      this.breakers.set(name, state);
    }
    return state;
  }

  guildSettingsRecords(): RedisGuildSettingsRecords {
    return this.settings;
  }

  async ping(): Promise<void> {
    await answerWithin(this.client.ping(), CLAIM_TIMEOUT_MS);
  }

  mutex(): RedisMutex {
    this.locks ??= new RedisMutex(this.client);
    return this.locks;
  }

  /** SET NX PX: the first process to set the key wins; it lapses after `ttlMs`. */
  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const claimed = this.client.set(`pika:claim:${key}`, '1', { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } });
    return (await answerWithin(claimed, CLAIM_TIMEOUT_MS)) === 'OK';
  }

  async close(): Promise<void> {
    this.spaces.clear();
    // The subscriber first: word heard while the rest closes would find nothing to act on.
    await Promise.allSettled([this.bus.close()]);
    await Promise.allSettled([this.client.close(), this.settingsPool.close(), this.usage.close()]);
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured Redis';
  }
}
