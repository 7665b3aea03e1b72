/**
 * What moderators decide about who may use the bot, where, and with which words, as pure
 * functions of a server's settings. Checked before anything is reserved or sent upstream.
 */
import type { Limit } from '../usage/limits.js';

export interface RoleRule {
  /** Members with this role are not held to the per-user and server limits. */
  exempt?: boolean;
  /** This role's own allowance; a member gets the most generous of their roles'. */
  dailyLimit?: Limit;
  weeklyLimit?: Limit;
}

export interface UserBlock {
  reason: string | null;
  by: string;
  at: number;
}

export interface ModerationSettings {
  roles: Record<string, RoleRule>;
  requiredRoleId: string | null;
  blocked: Record<string, UserBlock>;
  bannedWords: string[];
  /** Channels where the bot may be used; empty means everywhere. */
  allowedChannelIds: string[];
  auditChannelId: string | null;
}

export function emptyModeration(): ModerationSettings {
  return { roles: {}, requiredRoleId: null, blocked: {}, bannedWords: [], allowedChannelIds: [], auditChannelId: null };
}

/** Who asks, from where, with what text. */
export interface Requester {
  userId: string;
  roleIds: readonly string[];
  channelId: string;
  /** The channel a thread belongs to, so allowing a channel allows its threads. */
  parentChannelId: string | null;
}

export type PolicyRefusal =
  | { rule: 'blocked'; reason: string | null }
  | { rule: 'required-role'; roleId: string }
  | { rule: 'channel'; allowedChannelIds: string[] }
  | { rule: 'banned-word' };

/** The first moderation rule that refuses this request, or null. */
export function checkPolicy(settings: ModerationSettings, requester: Requester, texts: readonly string[] = []): PolicyRefusal | null {
  const block = settings.blocked[requester.userId];
  if (block) return { rule: 'blocked', reason: block.reason };
  if (settings.requiredRoleId && !requester.roleIds.includes(settings.requiredRoleId)) {
    return { rule: 'required-role', roleId: settings.requiredRoleId };
  }
  const allowed = settings.allowedChannelIds;
  if (allowed.length > 0 && !allowed.includes(requester.channelId) && !(requester.parentChannelId && allowed.includes(requester.parentChannelId))) {
    return { rule: 'channel', allowedChannelIds: allowed };
  }
  if (texts.some((text) => containsBannedWord(text, settings.bannedWords))) return { rule: 'banned-word' };
  return null;
}

/**
 * Whole-word, case-insensitive match: `cat` matches "Cat!" and "a cat" but not "concatenate".
 * A banned entry may be several words ("bad phrase").
 */
export function containsBannedWord(text: string, bannedWords: readonly string[]): boolean {
  if (bannedWords.length === 0) return false;
  // Invisible characters (zero-width space, soft hyphen…) would otherwise split a word unseen.
  const normalized = text.normalize('NFKC').replace(/\p{Cf}/gu, '');
  return bannedWords.some((word) => wholeWordPattern(word).test(normalized));
}

function wholeWordPattern(word: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escapeForPattern(word)}(?![\\p{L}\\p{N}_])`, 'iu');
}

/** The word as a pattern: taken literally, any run of spaces matching any whitespace. */
function escapeForPattern(word: string): string {
  return word.normalize('NFKC').trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+');
}

/**
 * Normalizes a word a moderator typed, for storing. Case is kept: matching ignores it, and
 * lower-casing some letters (İ) would change what they match.
 */
export function normalizeBannedWord(word: string): string {
  return word.normalize('NFKC').replace(/\p{Cf}/gu, '').trim().replace(/\s+/g, ' ');
}

/** Whether two stored words are the same word, by the very rule that matches them in prompts. */
export function sameBannedWord(a: string, b: string): boolean {
  return new RegExp(`^${escapeForPattern(a)}$`, 'iu').test(b);
}

/** How a member's roles change the rules: exemption, and the most generous role allowance. */
export interface RoleEffect {
  exempt: boolean;
  dailyLimit: Limit | undefined;
  weeklyLimit: Limit | undefined;
}

export function roleEffect(roles: Record<string, RoleRule>, roleIds: readonly string[]): RoleEffect {
  const rules = roleIds.map((id) => roles[id]).filter((rule): rule is RoleRule => rule !== undefined);
  return {
    exempt: rules.some((rule) => rule.exempt === true),
    dailyLimit: mostGenerous(rules.map((rule) => rule.dailyLimit)),
    weeklyLimit: mostGenerous(rules.map((rule) => rule.weeklyLimit)),
  };
}

/** `null` (unlimited) beats any number; undefined means the role sets nothing. */
function mostGenerous(limits: ReadonlyArray<Limit | undefined>): Limit | undefined {
  const set = limits.filter((limit): limit is Limit => limit !== undefined);
  if (set.length === 0) return undefined;
  if (set.includes(null)) return null;
  return Math.max(...(set as number[]));
}
