import { KeyedMutex } from './util/keyed-mutex.js';
import type Keyv from 'keyv';
import { LocalClaims } from './local-claims.js';
import type { Logger } from './logger.js';
import { LocalBreakerState } from './pika/breaker-state.js';
import { Storage } from './storage.js';
import type { Store } from './store.js';
import { KeyvGuildSettingsRecords } from './usage/guild-settings-records.js';
import { KeyvUsageBackend } from './usage/usage-store.js';

/**
 * The bot's storage in a SQLite file (Storage): one process holds it, so what several processes
 * would share (the breaker's state, word of settings changes, claims) lives in this process.
 */
export class SqliteStore implements Store {
  private readonly breakers = new Map<string, LocalBreakerState>();
  private readonly claims = new LocalClaims();
  private readonly locks = new KeyedMutex();
  private settings: KeyvGuildSettingsRecords | undefined;

  private constructor(
    private readonly storage: Storage,
    private readonly logger: Pick<Logger, 'debug'>,
  ) {}

  /** Takes the file's single-writer lock (Storage.open: StoreInUseError if another process has it). */
  static async open(url: string, logger: Pick<Logger, 'debug'>): Promise<SqliteStore> {
    return new SqliteStore(await Storage.open(url), logger);
  }

  namespace(name: string): Keyv {
    return this.storage.namespace(name);
  }

  usageBackend(): KeyvUsageBackend {
    return new KeyvUsageBackend(this.storage.namespace('usage'), this.logger);
  }

  breakerState(name: string): LocalBreakerState {
    let state = this.breakers.get(name);
    if (!state) {
      state = new LocalBreakerState();
      this.breakers.set(name, state);
    }
    return state;
  }

  async ping(): Promise<void> {
    await this.storage.namespace('meta').get('holder');
  }

  mutex(): KeyedMutex {
    return this.locks;
  }

  guildSettingsRecords(): KeyvGuildSettingsRecords {
    this.settings ??= new KeyvGuildSettingsRecords(this.storage.namespace('guild-settings'));
    return this.settings;
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.claims.claimOnce(key, ttlMs);
  }

  close(): Promise<void> {
    return this.storage.close();
  }
}
