/**
 * The changes moderators make to a server's settings, as pure functions: each applies one change
 * to the settings it is given and returns how the audit log and the answer describe it, or
 * throws a UserError when the change makes no sense.
 */
import { displayText } from '../discord/messages.js';
import { LIMIT_LABELS } from '../discord/usage-messages.js';
import { UserError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LIMIT_FIELDS, type GuildSettings, type GuildSettingsStore, type LimitField } from '../usage/guild-settings.js';
import type { AuditLog } from './audit-log.js';
import type { Limit } from '../usage/limits.js';
import { normalizeBannedWord, sameBannedWord } from './policy.js';

export type SettingsEdit = (settings: GuildSettings) => string;

export const MAX_BANNED_WORDS = 500;

const limitText = (value: Limit) => (value === null ? 'unlimited' : String(value));

/** Sets some limits (`null` = unlimited), after putting them all back to the defaults if `reset`. */
export function setLimits(reset: boolean, values: Partial<Record<LimitField, Limit>>): SettingsEdit {
  return (settings) => {
    const changes: string[] = [];
    if (reset) {
      settings.limits = {};
      changes.push('every limit reset to the bot’s defaults');
    }
    for (const field of LIMIT_FIELDS) {
      const value = values[field];
      if (value === undefined) continue;
      if ((value !== null && value < 0) || (field === 'cooldownSeconds' && value === null) || (field === 'maxConcurrent' && value === 0)) {
        throw new UserError(field === 'maxConcurrent' ? '`concurrent` must be at least 1, or -1 for unlimited.' : `${LIMIT_LABELS[field]} cannot be ${limitText(value)}.`);
      }
      (settings.limits as Record<LimitField, Limit>)[field] = value;
      changes.push(`${LIMIT_LABELS[field].toLowerCase()} set to ${limitText(value)}`);
    }
    if (changes.length === 0) throw new UserError('Nothing to change: give at least one limit, or `reset`.');
    return changes.join('; ');
  };
}

export function requireRole(roleId: string | null): SettingsEdit {
  return ({ moderation }) => {
    moderation.requiredRoleId = roleId;
    return roleId ? `made <@&${roleId}> required to use the bot` : 'let everyone use the bot (no role required)';
  };
}

export function clearRole(roleId: string): SettingsEdit {
  return ({ moderation }) => {
    delete moderation.roles[roleId];
    return `removed the rules of <@&${roleId}>`;
  };
}

export function exemptRole(roleId: string, exempt: boolean): SettingsEdit {
  return ({ moderation }) => {
    const rule = { ...moderation.roles[roleId] };
    if (exempt) rule.exempt = true;
    else delete rule.exempt;
    // A role left with no rule is not listed at all.
    if (Object.keys(rule).length === 0) delete moderation.roles[roleId];
    else moderation.roles[roleId] = rule;
    return exempt ? `exempted <@&${roleId}> from the limits` : `stopped exempting <@&${roleId}>`;
  };
}

/** A role's own allowance; `null` = unlimited, undefined = leave as it is. */
export function roleAllowance(roleId: string, daily: Limit | undefined, weekly: Limit | undefined): SettingsEdit {
  return ({ moderation }) => {
    if (daily === undefined && weekly === undefined) throw new UserError('Give `daily`, `weekly` or both.');
    const rule = (moderation.roles[roleId] ??= {});
    if (daily !== undefined) rule.dailyLimit = daily;
    if (weekly !== undefined) rule.weeklyLimit = weekly;
    const parts = [daily !== undefined ? `${limitText(daily)} per day` : '', weekly !== undefined ? `${limitText(weekly)} per week` : ''];
    return `gave <@&${roleId}> an allowance of ${parts.filter(Boolean).join(' and ')}`;
  };
}

export function blockUser(userId: string, reason: string | null, by: string, at: number): SettingsEdit {
  return ({ moderation }) => {
    moderation.blocked[userId] = { reason, by, at };
    return `blocked <@${userId}>${reason ? ` (reason: ${displayText(reason, 300)})` : ''}`;
  };
}

export function unblockUser(userId: string): SettingsEdit {
  return ({ moderation }) => {
    if (!moderation.blocked[userId]) throw new UserError(`<@${userId}> is not blocked.`);
    delete moderation.blocked[userId];
    return `unblocked <@${userId}>`;
  };
}

/** The audit log says a word was banned, never which: the log is read by many. */
export function banWord(typed: string): SettingsEdit {
  const word = normalizeBannedWord(typed);
  return ({ moderation }) => {
    if (!word) throw new UserError('That word is empty.');
    if (moderation.bannedWords.some((w) => sameBannedWord(w, word))) throw new UserError('That word is already banned.');
    if (moderation.bannedWords.length >= MAX_BANNED_WORDS) throw new UserError(`A server can ban at most ${MAX_BANNED_WORDS} words.`);
    moderation.bannedWords.push(word);
    return 'banned a word in prompts';
  };
}

export function allowWord(typed: string): SettingsEdit {
  const word = normalizeBannedWord(typed);
  return ({ moderation }) => {
    if (!word) throw new UserError('That word is empty.');
    if (!moderation.bannedWords.some((w) => sameBannedWord(w, word))) throw new UserError('That word is not on the list.');
    moderation.bannedWords = moderation.bannedWords.filter((w) => !sameBannedWord(w, word));
    return 'allowed a banned word again';
  };
}

export function allowChannel(channelId: string): SettingsEdit {
  return ({ moderation }) => {
    if (!moderation.allowedChannelIds.includes(channelId)) moderation.allowedChannelIds.push(channelId);
    return `allowed the bot in <#${channelId}>`;
  };
}

export function disallowChannel(channelId: string): SettingsEdit {
  return ({ moderation }) => {
    moderation.allowedChannelIds = moderation.allowedChannelIds.filter((id) => id !== channelId);
    return `stopped allowing the bot in <#${channelId}>${moderation.allowedChannelIds.length ? '' : ' (it may now be used in every channel)'}`;
  };
}

export function allowEveryChannel(): SettingsEdit {
  return ({ moderation }) => {
    moderation.allowedChannelIds = [];
    return 'allowed the bot in every channel';
  };
}

export function setAuditChannel(channelId: string | null): SettingsEdit {
  return ({ moderation }) => {
    moderation.auditChannelId = channelId;
    return channelId ? `set the audit log to <#${channelId}>` : 'turned the audit log off';
  };
}

/** Applies moderators' edits: one at a time per server, logged, and recorded in the audit log. */
export class SettingsEditor {
  constructor(
    private readonly settings: GuildSettingsStore,
    private readonly audit: AuditLog,
    private readonly logger: Logger,
  ) {}

  /** Applies `edit` and answers the moderator with what it did. */
  async apply(guildId: string, moderatorId: string, edit: SettingsEdit): Promise<string> {
    const { result: description } = await this.settings.update(guildId, edit);
    this.logger.info('settings changed', { guild: guildId, moderator: moderatorId, change: description });
    await this.audit.change(guildId, moderatorId, description);
    return `Done: ${description}.`;
  }
}
