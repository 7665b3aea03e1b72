import type Keyv from 'keyv';
import type { OperatorLimits } from '../config.js';
import { emptyModeration, roleEffect, type ModerationSettings } from '../moderation/policy.js';
import type { Limit, LimitRules } from './limits.js';
import { KeyedMutex } from '../util/keyed-mutex.js';

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

/** Per-server settings in keyv, one record per guild, kept in memory once read (this process is their only writer). */
export class GuildSettingsStore {
  private readonly cache = new Map<string, GuildSettings>();
  private readonly mutex = new KeyedMutex();

  constructor(private readonly keyv: Keyv) {}

  async get(guildId: string): Promise<GuildSettings> {
    const stored = this.cache.get(guildId) ?? (await this.keyv.get<GuildSettings>(guildId));
    if (stored) this.cache.set(guildId, stored);
    return structuredClone({ limits: { ...stored?.limits }, moderation: { ...emptyModeration(), ...stored?.moderation } });
  }

  /** Applies `change` to the stored settings, one change per server at a time so none is lost. */
  update<T>(guildId: string, change: (settings: GuildSettings) => T): Promise<{ settings: GuildSettings; result: T }> {
    return this.mutex.runExclusive([guildId], async () => {
      const settings = await this.get(guildId);
      const result = change(settings);
      this.cache.delete(guildId);
      await this.keyv.set(guildId, settings);
      this.cache.set(guildId, structuredClone(settings));
      return { settings, result };
    });
  }
}

/**
 * The usage scope of the app installed to users' own accounts, used where no server that
 * installed the bot is involved: counted per user, under the operator's USER_INSTALL_* limits.
 */
export const USER_INSTALL_SCOPE = 'user-install';
