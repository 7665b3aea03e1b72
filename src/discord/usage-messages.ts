import { time, TimestampStyles } from 'discord.js';
import { serverDayTotal, serverWeekTotal, type Limit, type LimitRules, type QuotaView, type Refusal, type GuildUsage, type UserUsage } from '../usage/limits.js';
import { LIMIT_FIELDS, type GuildSettings, type LimitField } from '../usage/guild-settings.js';
import type { PolicyRefusal } from '../moderation/policy.js';
import { displayText, LIMITS } from './messages.js';
import { truncate } from '../text.js';

const relative = (ms: number) => time(Math.ceil(ms / 1000), TimestampStyles.RelativeTime);
const videos = (n: number) => `${n} video${n === 1 ? '' : 's'}`;

/** Why a command was refused, and when trying again can work. */
export function renderRefusal(refusal: Refusal, rules: LimitRules, globalDailyCap: Limit): string {
  const retry = refusal.retryAt === undefined ? 'later' : relative(refusal.retryAt);
  const allowed = { concurrency: rules.maxConcurrent, daily: rules.dailyLimit, weekly: rules.weeklyLimit, server: rules.serverDailyCap, global: globalDailyCap, cooldown: null };
  if (refusal.hits.some((limit) => allowed[limit] === 0)) {
    return 'Making videos is switched off here for now. A moderator can change that with `/pika-admin limits`.';
  }
  switch (refusal.limit) {
    case 'concurrency':
      return `You already have ${videos(rules.maxConcurrent ?? 0)} in progress, the most allowed at once here. You can start another as soon as one finishes.`;
    case 'cooldown':
      return `Please wait a moment between videos: you can start your next one ${retry}.`;
    case 'daily':
      return `You have used all ${videos(rules.dailyLimit ?? 0)} of your daily allowance here. You can make more ${retry}.`;
    case 'weekly':
      return `You have used all ${videos(rules.weeklyLimit ?? 0)} of your weekly allowance here. You can make more ${retry}.`;
    case 'server':
      return `This server has reached its limit of ${videos(rules.serverDailyCap ?? 0)} for today. Videos can be made again ${retry}.`;
    case 'global':
      return `The bot has reached its daily limit of ${videos(globalDailyCap ?? 0)} across all servers. Videos can be made again ${retry}.`;
  }
}

/** The circuit breaker is open: the video service failed repeatedly. */
export function renderServiceUnavailable(retryAt: number | null): string {
  return `The video service is unavailable right now, so I’m not starting new videos for a moment. Please try again ${retryAt === null ? 'shortly' : relative(retryAt)}.`;
}

/** Why moderation refused a command: polite, and never which banned word matched. */
export function renderPolicyRefusal(refusal: PolicyRefusal): string {
  switch (refusal.rule) {
    case 'blocked':
      return `A moderator has blocked you from making videos in this server.${refusal.reason ? ` Reason: ${displayText(refusal.reason, 500)}` : ''}`;
    case 'required-role':
      return `You need the <@&${refusal.roleId}> role to make videos in this server.`;
    case 'channel':
      return `I can’t be used in this channel. Please use ${refusal.allowedChannelIds.map((id) => `<#${id}>`).join(', ')}.`;
    case 'banned-word':
      return 'Your prompt was refused by this server’s rules. Please rephrase it.';
  }
}

/** `/pika quota`: what the user has left, and when each part resets. */
export function renderQuota(view: QuotaView, owner: boolean, exempt = false): string {
  if (owner) return '**Your Pika allowance**\nYou are one of the bot’s owners: no limits apply to you.';
  if (exempt) return '**Your Pika allowance in this server**\nOne of your roles exempts you from this server’s limits.';
  const allowance = (left: Limit, resetsAt: number) =>
    left === null ? 'unlimited' : `${videos(left)} left · resets ${relative(resetsAt)}`;
  const lines = [
    '**Your Pika allowance in this server**',
    `Today: ${allowance(view.dailyLeft, view.dayResetsAt)}`,
    `This week: ${allowance(view.weeklyLeft, view.weekResetsAt)}`,
    `Cooldown: ${view.cooldownUntil === null ? 'ready now' : `next video ${relative(view.cooldownUntil)}`}`,
    `In progress: ${view.running}${view.maxConcurrent === null ? '' : ` of at most ${view.maxConcurrent}`}`,
  ];
  if (view.bonus > 0) lines.push(`Extra videos granted: ${view.bonus}`);
  if (view.serverLeftToday !== null) lines.push(`Server today: ${videos(view.serverLeftToday)} left · resets ${relative(view.dayResetsAt)}`);
  return lines.join('\n');
}

export const LIMIT_LABELS: Record<LimitField, string> = {
  dailyLimit: 'Videos per user per day',
  weeklyLimit: 'Videos per user per week',
  cooldownSeconds: 'Cooldown between a user’s videos',
  maxConcurrent: 'Videos in progress per user',
  serverDailyCap: 'Videos per day for the whole server',
};

function formatLimit(field: LimitField, value: Limit): string {
  if (field === 'cooldownSeconds') return value ? `${value} s` : 'none';
  return value === null ? 'unlimited' : String(value);
}

/** `/pika-admin show`: the server's whole configuration, marking what is the operator's default. */
export function renderSettings(settings: GuildSettings, rules: LimitRules, globalDailyCap: Limit): string {
  const lines = ['**Pika settings for this server**', '__Limits__'];
  for (const field of LIMIT_FIELDS) {
    const isDefault = settings.limits[field] === undefined;
    lines.push(`${LIMIT_LABELS[field]}: ${formatLimit(field, rules[field])}${isDefault ? ' (default)' : ''}`);
  }
  lines.push(`All servers together (set by the operator): ${globalDailyCap === null ? 'no daily cap' : `${videos(globalDailyCap)} per day`}`);
  const { moderation } = settings;
  lines.push('__Roles__');
  const roleLines = Object.entries(moderation.roles).map(([id, rule]) => {
    const parts = [
      ...(rule.exempt ? ['exempt from limits'] : []),
      ...(rule.dailyLimit !== undefined ? [`${formatLimit('dailyLimit', rule.dailyLimit)} per day`] : []),
      ...(rule.weeklyLimit !== undefined ? [`${formatLimit('weeklyLimit', rule.weeklyLimit)} per week`] : []),
    ];
    return `<@&${id}>: ${parts.join(', ')}`;
  });
  lines.push(...(roleLines.length ? roleLines : ['no role rules']));
  lines.push(`Required role: ${moderation.requiredRoleId ? `<@&${moderation.requiredRoleId}>` : 'none (everyone may use the bot)'}`);
  lines.push('__Blocked users__');
  const blocked = Object.entries(moderation.blocked).map(([id, block]) => `<@${id}>${block.reason ? `: ${displayText(block.reason, 200)}` : ''}`);
  lines.push(...(blocked.length ? blocked : ['nobody']));
  lines.push(`__Banned words__ (${moderation.bannedWords.length}; see \`/pika-admin words list\`)`);
  lines.push(`__Channels__: ${moderation.allowedChannelIds.length ? moderation.allowedChannelIds.map((id) => `<#${id}>`).join(', ') : 'every channel'}`);
  lines.push(`__Audit log__: ${moderation.auditChannelId ? `<#${moderation.auditChannelId}>` : 'off'}`);
  return fitMessage(lines.join('\n'));
}

/** One user's use of the bot in a server, for `/pika-admin usage user:`. */
export function renderUserUsage(userId: string, user: UserUsage, blocked: boolean): string {
  return [
    `**Pika usage of <@${userId}> in this server**`,
    `Today (UTC): ${videos(user.dayCount)} · This week: ${videos(user.weekCount)}`,
    `In progress: ${user.running.length}`,
    `Extra videos granted: ${user.bonus ?? 0}`,
    `Blocked: ${blocked ? 'yes' : 'no'}`,
  ].join('\n');
}

/** Keeps a listing within Discord's 2,000 characters. */
export function fitMessage(text: string): string {
  const note = '\n(list cut short)';
  return text.length <= LIMITS.content ? text : `${truncate(text, LIMITS.content - note.length)}${note}`;
}

/** `/pika-admin usage`: totals and the heaviest users of the day and the week. */
export function renderUsage(usage: GuildUsage, top = 10): string {
  const ranking = (counts: Record<string, number>) => {
    const entries = Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).slice(0, top);
    return entries.length === 0 ? 'nobody yet' : entries.map(([user, n], i) => `${i + 1}. <@${user}>: ${n}`).join('\n');
  };
  return [
    '**Pika usage in this server**',
    `Today (UTC): ${videos(serverDayTotal(usage))} · This week: ${videos(serverWeekTotal(usage))}`,
    '__Top users today__',
    ranking(usage.dayByUser),
    '__Top users this week__',
    ranking(usage.weekByUser),
  ].join('\n');
}
