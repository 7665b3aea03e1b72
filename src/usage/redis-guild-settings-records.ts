import type KeyvRedis from '@keyv/redis';
import type { RedisClientPoolType } from '@redis/client';
import type Keyv from 'keyv';
import type { RedisBus } from '../redis-bus.js';
import { RedisTransactions, type Multi } from '../redis-transaction.js';
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

/**
 * The servers' settings on a Redis store, shared by every process. Records stay where and as
 * keyv keeps them (read through keyv, written in keyv's own format), so a store written before
 * reads the same. A change is one optimistic Redis transaction on its record
 * (RedisTransactions), so two processes' changes never overwrite each other. Once stored, the
 * guild's id is published on SETTINGS_CHANNEL, and every process drops its copy.
 */
export class RedisGuildSettingsRecords implements GuildSettingsRecords {
  readonly maxCacheAgeMs = MAX_CACHE_AGE_MS;
  private readonly transactions: RedisTransactions;
  private readonly listeners: SettingsChangeListener[] = [];

  private constructor(
    private readonly keyv: Keyv,
    private readonly pool: RedisClientPoolType,
    private readonly bus: RedisBus,
    private readonly onError: (error: unknown) => void,
  ) {
    this.transactions = new RedisTransactions(pool);
  }

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
    const key = this.redisKey(guildId);
    const changed = this.transactions.run([guildId], [key], async (client) => {
      const raw = await client.get(key);
      const stored = raw === null ? undefined : (await this.keyv.deserializeData<GuildSettings>(raw))?.value;
      const { settings, result } = change(stored);
      const serialized = String(await this.keyv.serializeData({ value: settings, expires: undefined }));
      return { write: (multi: Multi) => void multi.set(key, serialized), result };
    });
    // Stored: a failed announcement must not fail the change. The others read it again once
    // their subscriber is back (a lost connection on either side) or their copy is too old.
    return changed.then(async (result) => {
      await this.bus.publish(SETTINGS_CHANNEL, guildId).catch(this.onError);
      return result;
    });
  }

  onChange(listener: SettingsChangeListener): void {
    this.listeners.push(listener);
  }

  private tell(guildId: string | null): void {
    for (const listener of this.listeners) listener(guildId);
  }

  /** The Redis key keyv keeps a guild's record under: its own namespace prefix, then the adapter's. */
  private redisKey(guildId: string): string {
    const adapter = this.keyv.store as KeyvRedis<unknown>;
    return adapter.createKeyPrefix(this.keyv._getKeyPrefix(guildId), adapter.namespace);
  }
}
