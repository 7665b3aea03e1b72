import type Keyv from 'keyv';
import type { OperatorLimits } from '../config.js';
import type { Limit, LimitRules } from './limits.js';

/**
 * What a server's moderators set. A field left out means "the operator's default"; `null`
 * means unlimited.
 */
export interface GuildSettings {
  limits: Partial<LimitRules>;
}

export const LIMIT_FIELDS = ['dailyLimit', 'weeklyLimit', 'cooldownSeconds', 'maxConcurrent', 'serverDailyCap'] as const satisfies ReadonlyArray<keyof LimitRules>;
export type LimitField = (typeof LIMIT_FIELDS)[number];

/** The rules in force: the server's own settings over the operator's defaults. */
export function effectiveRules(settings: GuildSettings, operator: OperatorLimits): LimitRules {
  const rules = { ...operator.defaults };
  for (const field of LIMIT_FIELDS) {
    const value = settings.limits[field];
    if (value !== undefined) (rules as Record<LimitField, Limit>)[field] = value;
  }
  return rules;
}

/** Per-server settings in keyv, one record per guild. */
export class GuildSettingsStore {
  constructor(private readonly keyv: Keyv) {}

  async get(guildId: string): Promise<GuildSettings> {
    const stored = await this.keyv.get<GuildSettings>(guildId);
    return { limits: { ...stored?.limits } };
  }

  async save(guildId: string, settings: GuildSettings): Promise<void> {
    await this.keyv.set(guildId, settings);
  }
}
