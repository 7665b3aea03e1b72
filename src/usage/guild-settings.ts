import type Keyv from 'keyv';
import type { OperatorLimits } from '../config.js';
import { emptyModeration, roleEffect, type ModerationSettings } from '../moderation/policy.js';
import type { Limit, LimitRules } from './limits.js';
import { processClock, type Clock } from '../clock.js';
import { KeyvGuildSettingsRecords, type GuildSettingsRecords } from './guild-settings-records.js';
import { thenMaybe, type MaybePromise } from '../util/maybe-promise.js';

/**
 * What a server's moderators set. A limit left out means "the operator's default"; `null`
 * means unlimited.
 */
export interface GuildSettings {
  limits: Partial<LimitRules>;
  moderation: ModerationSettings;
}

export const LIMIT_FIELDS = ['dailyLimit', 'weeklyLimit', 'cooldownSeconds', 'maxConcurrent', 'serverDailyCap'] as const satisfies ReadonlyArray<keyof LimitRules>;
export type LimitField = (typeof LIMIT_FIELDS)[number];

/** The rules in force for a member: the server's settings over the operator's defaults, then their roles. */
export function effectiveRules(settings: GuildSettings, operator: OperatorLimits, roleIds: readonly string[] = []): LimitRules {
  const rules = { ...operator.defaults };
  for (const field of LIMIT_FIELDS) {
    const value = settings.limits[field];
    if (value !== undefined) (rules as Record<LimitField, Limit>)[field] = value;
  }
  const roles = roleEffect(settings.moderation.roles, roleIds);
  if (roles.dailyLimit !== undefined) rules.dailyLimit = roles.dailyLimit;
  if (roles.weeklyLimit !== undefined) rules.weeklyLimit = roles.weeklyLimit;
  return rules;
}

/** A copy of a guild's settings kept in memory, and when it was read. */
interface Kept {
  /** Undefined for a server with no settings stored: its absence is kept too. */
  settings: GuildSettings | undefined;
  readAt: number;
}

/**
 * Per-server settings, one record per guild, kept in memory once read. Other processes may
 * change them (a Redis store), so a copy is dropped on word of a change to its guild, all copies
 * when word may have been missed, and any copy older than the records allow. A read that word of
 * a change overtook is not kept: it may hold what that change replaced.
 */
export class GuildSettingsStore {
  private readonly cache = new Map<string, Kept>();
  private readonly reading = new Map<string, Promise<GuildSettings | undefined>>();
  /** The completed, frozen copy `get` answers, by the stored record it was made of. */
  private readonly sharedCopies = new WeakMap<GuildSettings, GuildSettings>();
  private readonly records: GuildSettingsRecords;
  /** Bumped by every word of a change: a read begun before it is used, not kept. */
  private generation = 0;

  /** Over the store's records (Store.guildSettingsRecords), or a bare keyv that only this process writes. */
  constructor(
    records: GuildSettingsRecords | Keyv,
    private readonly now: Clock = processClock,
  ) {
    this.records = isRecords(records) ? records : new KeyvGuildSettingsRecords(records);
    this.records.onChange((guildId) => this.forget(guildId));
  }

  /**
   * The server's settings, with every field: one copy per read from the store, shared by every
   * caller and frozen (callers only read; a copy for each made up a good share of a command's
   * own time). Changes go through `update`. At once when the copy in memory is fresh.
   */
  get(guildId: string): MaybePromise<GuildSettings> {
    return thenMaybe(this.read(guildId), (stored) => this.sharedCopyOf(stored));
  }

  private sharedCopyOf(stored: GuildSettings | undefined): GuildSettings {
    if (!stored) return NO_SETTINGS;
    let shared = this.sharedCopies.get(stored);
    if (!shared) {
      shared = deepFreeze(completed(stored));
      this.sharedCopies.set(stored, shared);
    }
    return shared;
  }

  /**
   * Applies `change` to the stored settings, with no other change to the server in between in
   * any process, so none is lost. `change` may run more than once (see GuildSettingsRecords).
   */
  async update<T>(guildId: string, change: (settings: GuildSettings) => T): Promise<{ settings: GuildSettings; result: T }> {
    const { settings, result } = await this.records.update(guildId, (stored) => {
      const settings = completed(stored);
      return { settings, result: { settings, result: change(settings) } };
    });
    // Not kept: word of this change may come back after word of a later one from another process.
    this.forget(guildId);
    return { settings: structuredClone(settings), result };
  }

  private read(guildId: string): MaybePromise<GuildSettings | undefined> {
    const kept = this.cache.get(guildId);
    if (kept && this.now() - kept.readAt < this.records.maxCacheAgeMs) return kept.settings;
    this.cache.delete(guildId);
    // A burst of commands in a server not read yet waits for one read, not one each.
    const reading = this.reading.get(guildId);
    if (reading) return reading;
    const read: Promise<GuildSettings | undefined> = this.readStored(guildId).finally(() => {
      if (this.reading.get(guildId) === read) this.reading.delete(guildId);
    });
    this.reading.set(guildId, read);
    return read;
  }

  private async readStored(guildId: string): Promise<GuildSettings | undefined> {
    const generation = this.generation;
    const readAt = this.now();
    const stored = await this.records.get(guildId);
    // Kept whether or not it exists: most servers never change a setting, and every command reads them.
    if (this.records.listening && generation === this.generation) this.cache.set(guildId, { settings: stored, readAt });
    return stored;
  }

  private forget(guildId: string | null): void {
    this.generation++;
    // A read under way may have begun before the change: the next one reads afresh.
    if (guildId === null) this.reading.clear();
    else this.reading.delete(guildId);
    if (guildId === null) this.cache.clear();
    else this.cache.delete(guildId);
  }
}

/** A fresh copy of `stored` with every field (a record from before a field existed, or none: the defaults). */
function completed(stored: GuildSettings | undefined): GuildSettings {
  return structuredClone({ limits: { ...stored?.limits }, moderation: { ...emptyModeration(), ...stored?.moderation } });
}

/** What `get` answers for a server with no settings stored. */
const NO_SETTINGS: GuildSettings = deepFreeze(completed(undefined));

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const field of Object.values(value)) deepFreeze(field);
    Object.freeze(value);
  }
  return value;
}

function isRecords(records: GuildSettingsRecords | Keyv): records is GuildSettingsRecords {
  return typeof (records as Partial<GuildSettingsRecords>).onChange === 'function';
}

/**
 * The usage scope of the app installed to users' own accounts, used where no server that
 * installed the bot is involved: counted per user, under the operator's USER_INSTALL_* limits.
 */
export const USER_INSTALL_SCOPE = 'user-install';
