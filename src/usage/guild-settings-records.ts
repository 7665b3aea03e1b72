import type Keyv from 'keyv';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { GuildSettings } from './guild-settings.js';

/** Hears of a guild whose settings changed, or `null` when changes may have gone unheard (all are suspect). */
export type SettingsChangeListener = (guildId: string | null) => void;

/**
 * Where servers' settings are stored, for GuildSettingsStore (which keeps them in memory): one
 * record per guild, a change applied with no other change to the same guild in between (in any
 * process), and word of every change, so that a copy held in memory can be dropped.
 */
export interface GuildSettingsRecords {
  get(guildId: string): Promise<GuildSettings | undefined>;
  /**
   * Applies `change` to the stored record (undefined: none yet) and stores what it returns. On a
   * shared store `change` may run more than once (again on what another process just wrote), so it
   * must not act outside the value it is given; what it throws is thrown, with nothing stored.
   */
  update<T>(guildId: string, change: (stored: GuildSettings | undefined) => { settings: GuildSettings; result: T }): Promise<T>;
  /** Calls `listener` after each change, made by any process, once it is stored. */
  onChange(listener: SettingsChangeListener): void;
  /**
   * Whether every change is being heard right now. While it is not (a lost connection to the
   * others), what is read must not be kept, since a change made meanwhile would go unheard.
   */
  readonly listening: boolean;
  /** How long a copy in memory may be kept at most, in case a change went unheard without a sign. */
  readonly maxCacheAgeMs: number;
}

/**
 * The records in keyv, for a store only this process writes (SQLite): changes are serialized per
 * guild in memory, and word of them goes to this process's listeners only.
 */
export class KeyvGuildSettingsRecords implements GuildSettingsRecords {
  readonly listening = true;
  readonly maxCacheAgeMs = Infinity;
  private readonly mutex = new KeyedMutex();
  private readonly listeners: SettingsChangeListener[] = [];

  constructor(private readonly keyv: Keyv) {}

  get(guildId: string): Promise<GuildSettings | undefined> {
    return this.keyv.get<GuildSettings>(guildId);
  }

  update<T>(guildId: string, change: (stored: GuildSettings | undefined) => { settings: GuildSettings; result: T }): Promise<T> {
    return this.mutex.runExclusive([guildId], async () => {
      const { settings, result } = change(await this.keyv.get<GuildSettings>(guildId));
      await this.keyv.set(guildId, settings);
      for (const listener of this.listeners) listener(guildId);
      return result;
    });
  }

  onChange(listener: SettingsChangeListener): void {
    this.listeners.push(listener);
  }
}
