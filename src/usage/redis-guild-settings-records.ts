import { setTimeout as sleep } from 'node:timers/promises';
import type KeyvRedis from '@keyv/redis';
import { WatchError, type RedisClientPoolType } from '@redis/client';
import type Keyv from 'keyv';
import type { RedisBus } from '../redis-bus.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { answerWithin } from '../util/store-deadline.js';
import type { GuildSettings } from './guild-settings.js';
import type { GuildSettingsRecords, SettingsChangeListener } from './guild-settings-records.js';

/** Where each change is announced: the guild's id. */
export const SETTINGS_CHANNEL = 'pika:guild-settings:changed';
/**
 * A copy in memory is read again after this long even without word of a change: the last resort
 * against a subscriber connection that died without a sign (a word lost with no reconnect seen).
 */
const MAX_CACHE_AGE_MS = 30_000;
/** A read that Redis does not answer in time is "records unreachable", not a command that hangs. */
const READ_TIMEOUT_MS = 2000;
const MAX_BACKOFF_MS = 20;
const CONFLICT = Symbol('conflict');

type PooledClient = Parameters<Parameters<RedisClientPoolType['execute']>[0]>[0];

/**
 * The servers' settings on a Redis store, shared by every process. Records stay where and as
 * keyv keeps them (read through keyv, written in keyv's own format), so a store written before
 * reads the same. A change WATCHes its record on a pooled connection of its own, reads it,
 * applies the change and writes it in one MULTI/EXEC, which Redis refuses if another process
 * wrote the record meanwhile; then it runs again on what that one wrote. Once stored, the
 * guild's id is published on SETTINGS_CHANNEL, and every process drops its copy.
 */
export class RedisGuildSettingsRecords implements GuildSettingsRecords {
  readonly maxCacheAgeMs = MAX_CACHE_AGE_MS;
  private readonly mutex = new KeyedMutex();
  private readonly listeners: SettingsChangeListener[] = [];

  private constructor(
    private readonly keyv: Keyv,
    private readonly pool: RedisClientPoolType,
    private readonly bus: RedisBus,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Over `keyv` (the store's `guild-settings` namespace, on @keyv/redis), with changes made on
   * `pool` and announced on `bus`; `onError` hears of announcements that could not be sent.
   */
  static async open(keyv: Keyv, pool: RedisClientPoolType, bus: RedisBus, onError: (error: unknown) => void): Promise<RedisGuildSettingsRecords> {
    const records = new RedisGuildSettingsRecords(keyv, pool, bus, onError);
    await bus.subscribe(SETTINGS_CHANNEL, (guildId) => records.tell(guildId));
    bus.onResync(() => records.tell(null));
    return records;
  }

  get listening(): boolean {
    return this.bus.listening;
  }

  get(guildId: string): Promise<GuildSettings | undefined> {
    return answerWithin(this.keyv.get<GuildSettings>(guildId), READ_TIMEOUT_MS);
  }

  update<T>(guildId: string, change: (stored: GuildSettings | undefined) => { settings: GuildSettings; result: T }): Promise<T> {
    // Within this process changes to one guild queue, so retries come only from other processes.
    return this.mutex.runExclusive([guildId], async () => {
      let outcome;
      for (let attempt = 0; ; attempt++) {
        outcome = await this.pool.execute((client) => this.attempt(client, guildId, change));
        if (outcome !== CONFLICT) break;
        await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 1 + attempt));
      }
      // Stored: a failed announcement must not fail the change. The others read it again once
      // their subscriber is back (a lost connection on either side) or their copy is too old.
      await this.bus.publish(SETTINGS_CHANNEL, guildId).catch(this.onError);
      return outcome.result;
    });
  }

  onChange(listener: SettingsChangeListener): void {
    this.listeners.push(listener);
  }

  private tell(guildId: string | null): void {
    for (const listener of this.listeners) listener(guildId);
  }

  private async attempt<T>(
    client: PooledClient,
    guildId: string,
    change: (stored: GuildSettings | undefined) => { settings: GuildSettings; result: T },
  ): Promise<{ result: T } | typeof CONFLICT> {
    const key = this.redisKey(guildId);
    await client.watch(key);
    let serialized: string;
    let result: T;
    try {
      const raw = await client.get(key);
      const stored = raw === null ? undefined : (await this.keyv.deserializeData<GuildSettings>(raw))?.value;
      const changed = change(stored);
      result = changed.result;
      serialized = String(await this.keyv.serializeData({ value: changed.settings, expires: undefined }));
    } catch (error) {
      await client.unwatch();
      throw error;
    }
    try {
      if ((await client.multi().set(key, serialized).exec()) === null) return CONFLICT;
    } catch (error) {
      if (error instanceof WatchError) return CONFLICT;
      throw error;
    }
    return { result };
  }

  /** The Redis key keyv keeps a guild's record under: its own namespace prefix, then the adapter's. */
  private redisKey(guildId: string): string {
    const adapter = this.keyv.store as KeyvRedis<unknown>;
    return adapter.createKeyPrefix(this.keyv._getKeyPrefix(guildId), adapter.namespace);
  }
}
