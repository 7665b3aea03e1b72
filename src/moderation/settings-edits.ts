/**
 * The changes moderators make to a server's settings, as pure functions: each applies one change
 * to the settings it is given and returns it as a `Change` value (what changed, as data), or
 * throws an `EditRefused` naming the problem when the change makes no sense. The Discord edge
 * words both, in whichever language the reader needs.
 */
import type { Logger } from '../logger.js';
import { LIMIT_FIELDS, type GuildSettings, type GuildSettingsStore, type LimitField } from '../usage/guild-settings.js';
import type { AuditLog } from './audit-log.js';
import type { Limit } from '../usage/limits.js';
import { normalizeBannedWord, sameBannedWord } from './policy.js';

/** What a moderator changed. */
export type Change =
  | { kind: 'limits'; reset: boolean; set: Array<{ field: LimitField; value: Limit }> }
  | { kind: 'required-role'; roleId: string | null }
  | { kind: 'role-cleared'; roleId: string }
  | { kind: 'role-exempt'; roleId: string; exempt: boolean }
  | { kind: 'role-allowance'; roleId: string; daily: Limit | undefined; weekly: Limit | undefined }
  | { kind: 'user-blocked'; userId: string; reason: string | null }
  | { kind: 'user-unblocked'; userId: string }
  | { kind: 'word-banned' }
  | { kind: 'word-allowed' }
  | { kind: 'channel-allowed'; channelId: string }
  | { kind: 'channel-disallowed'; channelId: string; everywhere: boolean }
  | { kind: 'every-channel' }
  | { kind: 'audit-channel'; channelId: string | null }
  | { kind: 'bonus-granted'; userId: string; videos: number }
  | { kind: 'usage-reset'; userId: string };

/** Why an edit makes no sense. */
export type EditProblem =
  | { kind: 'nothing-to-change' }
  | { kind: 'concurrent-at-least-one' }
  | { kind: 'invalid-limit'; field: LimitField; value: Limit }
  | { kind: 'allowance-empty' }
  | { kind: 'not-blocked'; userId: string }
  | { kind: 'word-empty' }
  | { kind: 'word-already-banned' }
  | { kind: 'word-not-listed' }
  | { kind: 'too-many-words'; max: number };

/** An edit refused, with the problem as data; the command turns it into words for the moderator. */
export class EditRefused extends Error {
  override readonly name = 'EditRefused';
  constructor(readonly problem: EditProblem) {
    super(`settings edit refused: ${problem.kind}`);
  }
}

const refuse = (problem: EditProblem): never => {
  throw new EditRefused(problem);
};

export type SettingsEdit = (settings: GuildSettings) => Change;

export const MAX_BANNED_WORDS = 500;

/** Sets some limits (`null` = unlimited), after putting them all back to the defaults if `reset`. */
export function setLimits(reset: boolean, values: Partial<Record<LimitField, Limit>>): SettingsEdit {
  return (settings) => {
    const set: Array<{ field: LimitField; value: Limit }> = [];
    if (reset) settings.limits = {};
    for (const field of LIMIT_FIELDS) {
      const value = values[field];
      if (value === undefined) continue;
      if ((value !== null && value < 0) || (field === 'cooldownSeconds' && value === null) || (field === 'maxConcurrent' && value === 0)) {
        refuse(field === 'maxConcurrent' ? { kind: 'concurrent-at-least-one' } : { kind: 'invalid-limit', field, value });
      }
      (settings.limits as Record<LimitField, Limit>)[field] = value;
      set.push({ field, value });
    }
    if (!reset && set.length === 0) refuse({ kind: 'nothing-to-change' });
    return { kind: 'limits', reset, set };
  };
}

export function requireRole(roleId: string | null): SettingsEdit {
  return ({ moderation }) => {
    moderation.requiredRoleId = roleId;
    return { kind: 'required-role', roleId };
  };
}

export function clearRole(roleId: string): SettingsEdit {
  return ({ moderation }) => {
    delete moderation.roles[roleId];
    return { kind: 'role-cleared', roleId };
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
    return { kind: 'role-exempt', roleId, exempt };
  };
}

/** A role's own allowance; `null` = unlimited, undefined = leave as it is. */
export function roleAllowance(roleId: string, daily: Limit | undefined, weekly: Limit | undefined): SettingsEdit {
  return ({ moderation }) => {
    if (daily === undefined && weekly === undefined) refuse({ kind: 'allowance-empty' });
    const rule = (moderation.roles[roleId] ??= {});
    if (daily !== undefined) rule.dailyLimit = daily;
    if (weekly !== undefined) rule.weeklyLimit = weekly;
    return { kind: 'role-allowance', roleId, daily, weekly };
  };
}

export function blockUser(userId: string, reason: string | null, by: string, at: number): SettingsEdit {
  return ({ moderation }) => {
    moderation.blocked[userId] = { reason, by, at };
    return { kind: 'user-blocked', userId, reason };
  };
}

export function unblockUser(userId: string): SettingsEdit {
  return ({ moderation }) => {
    if (!moderation.blocked[userId]) refuse({ kind: 'not-blocked', userId });
    delete moderation.blocked[userId];
    return { kind: 'user-unblocked', userId };
  };
}

/** The audit log says a word was banned, never which: the log is read by many. */
export function banWord(typed: string): SettingsEdit {
  const word = normalizeBannedWord(typed);
  return ({ moderation }) => {
    if (!word) return refuse({ kind: 'word-empty' });
    if (moderation.bannedWords.some((w) => sameBannedWord(w, word))) refuse({ kind: 'word-already-banned' });
    if (moderation.bannedWords.length >= MAX_BANNED_WORDS) refuse({ kind: 'too-many-words', max: MAX_BANNED_WORDS });
    moderation.bannedWords.push(word);
    return { kind: 'word-banned' };
  };
}

export function allowWord(typed: string): SettingsEdit {
  const word = normalizeBannedWord(typed);
  return ({ moderation }) => {
    if (!word) return refuse({ kind: 'word-empty' });
    if (!moderation.bannedWords.some((w) => sameBannedWord(w, word))) refuse({ kind: 'word-not-listed' });
    moderation.bannedWords = moderation.bannedWords.filter((w) => !sameBannedWord(w, word));
    return { kind: 'word-allowed' };
  };
}

export function allowChannel(channelId: string): SettingsEdit {
  return ({ moderation }) => {
    if (!moderation.allowedChannelIds.includes(channelId)) moderation.allowedChannelIds.push(channelId);
    return { kind: 'channel-allowed', channelId };
  };
}

export function disallowChannel(channelId: string): SettingsEdit {
  return ({ moderation }) => {
    moderation.allowedChannelIds = moderation.allowedChannelIds.filter((id) => id !== channelId);
    return { kind: 'channel-disallowed', channelId, everywhere: moderation.allowedChannelIds.length === 0 };
  };
}

export function allowEveryChannel(): SettingsEdit {
  return ({ moderation }) => {
    moderation.allowedChannelIds = [];
    return { kind: 'every-channel' };
  };
}

export function setAuditChannel(channelId: string | null): SettingsEdit {
  return ({ moderation }) => {
    moderation.auditChannelId = channelId;
    return { kind: 'audit-channel', channelId };
  };
}

/** Applies moderators' edits: one at a time per server, logged, and recorded in the audit log. */
export class SettingsEditor {
  constructor(
    private readonly settings: GuildSettingsStore,
    private readonly audit: AuditLog,
    private readonly logger: Logger,
  ) {}

  /**
   * Applies `edit`, records it (the audit log in the server's language, `guildLocale`) and
   * returns what changed, for the command to tell the moderator in theirs.
   */
  async apply(guildId: string, moderatorId: string, edit: SettingsEdit, guildLocale: string | null): Promise<Change> {
    const { result: change } = await this.settings.update(guildId, edit);
    this.logger.info('settings changed', { guild: guildId, moderator: moderatorId, change });
    await this.audit.change(guildId, moderatorId, change, guildLocale);
    return change;
  }
}
