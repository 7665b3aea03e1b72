import type { Limit, LimitRules, QuotaView, Refusal, UserUsage } from '../usage/limits.js';
import type { GuildUsageReport } from '../usage/usage-service.js';
import { LIMIT_FIELDS, type GuildSettings, type LimitField } from '../usage/guild-settings.js';
import type { PolicyRefusal } from '../moderation/policy.js';
import { displayText, LIMITS } from './messages.js';
import { truncate } from '../text.js';
import { messagesFor, type Locale } from '../i18n/index.js';

/** Why a command was refused, and when trying again can work, in `locale`. */
export function renderRefusal(refusal: Refusal, rules: LimitRules, globalDailyCap: Limit, locale: Locale): string {
  const t = messagesFor(locale);
  const { retryAt } = refusal;
  const allowed = { concurrency: rules.maxConcurrent, queue: null, daily: rules.dailyLimit, weekly: rules.weeklyLimit, server: rules.serverDailyCap, global: globalDailyCap, cooldown: null };
  if (refusal.hits.some((limit) => allowed[limit] === 0)) return t.pikaLimitsOff;
  switch (refusal.limit) {
    case 'concurrency':
      return t.pikaRefusedConcurrency({ max: rules.maxConcurrent ?? 0 });
    case 'queue':
      return t.pikaRefusedQueueFull({ waiting: refusal.waiting ?? 0 });
    case 'cooldown':
      return t.pikaRefusedCooldown({ retryAt });
    case 'daily':
      return t.pikaRefusedDaily({ limit: rules.dailyLimit ?? 0, retryAt });
    case 'weekly':
      return t.pikaRefusedWeekly({ limit: rules.weeklyLimit ?? 0, retryAt });
    case 'server':
      return t.pikaRefusedServer({ limit: rules.serverDailyCap ?? 0, retryAt });
    case 'global':
      return t.pikaRefusedGlobal({ limit: globalDailyCap ?? 0, retryAt });
  }
}

/** The circuit breaker is open: the video service failed repeatedly. */
export function renderServiceUnavailable(retryAt: number | null, locale: Locale): string {
  return messagesFor(locale).pikaServiceUnavailable({ retryAt: retryAt ?? undefined });
}

/** Why moderation refused a command: polite, and never which banned word matched. */
export function renderPolicyRefusal(refusal: PolicyRefusal, locale: Locale): string {
  const t = messagesFor(locale);
  switch (refusal.rule) {
    case 'blocked':
      return t.pikaPolicyBlocked({ reason: refusal.reason ? displayText(refusal.reason, 500) : '' });
    case 'required-role':
      return t.pikaPolicyRequiredRole({ roleId: refusal.roleId });
    case 'channel':
      return t.pikaPolicyChannel({ channels: refusal.allowedChannelIds.map((id) => `<#${id}>`) });
    case 'banned-word':
      return t.pikaPolicyBannedWord;
  }
}

/** `/pika quota`: what the user has left, and when each part resets, in `locale`. */
export function renderQuota(view: QuotaView, owner: boolean, exempt: boolean, locale: Locale): string {
  const t = messagesFor(locale);
  if (owner) return t.pikaQuotaOwner;
  if (exempt) return t.pikaQuotaExempt;
  const allowance = (left: Limit, resetsAt: number) => (left === null ? t.pikaQuotaUnlimited : t.pikaQuotaLeft({ left, resetsAt }));
  const lines = [
    t.pikaQuotaHeading,
    t.pikaQuotaToday({ allowance: allowance(view.dailyLeft, view.dayResetsAt) }),
    t.pikaQuotaWeek({ allowance: allowance(view.weeklyLeft, view.weekResetsAt) }),
    t.pikaQuotaCooldown({ until: view.cooldownUntil }),
    t.pikaQuotaRunning({ running: view.running, max: view.maxConcurrent, waiting: view.waiting }),
  ];
  if (view.bonus > 0) lines.push(t.pikaQuotaBonus({ bonus: view.bonus }));
  if (view.serverLeftToday !== null) lines.push(t.pikaQuotaServer({ left: view.serverLeftToday, resetsAt: view.dayResetsAt }));
  return lines.join('\n');
}

/** The label of a limit, as `/pika-admin show` and the changes name it. */
export function limitLabel(field: LimitField, locale: Locale): string {
  return messagesFor(locale).adminLimitLabel({ field });
}

function formatLimit(field: LimitField, value: Limit, locale: Locale): string {
  const t = messagesFor(locale);
  if (field === 'cooldownSeconds') return value ? t.adminSeconds({ seconds: value }) : t.adminNoCooldown;
  return value === null ? t.adminUnlimited : String(value);
}

/** `/pika-admin show`: the server's whole configuration, marking what is the operator's default. */
export function renderSettings(settings: GuildSettings, rules: LimitRules, globalDailyCap: Limit, locale: Locale): string {
  const t = messagesFor(locale);
  const lines = [t.adminSettingsHeading, t.adminSettingsLimits];
  for (const field of LIMIT_FIELDS) {
    lines.push(t.adminSettingsLimit({ label: limitLabel(field, locale), value: formatLimit(field, rules[field], locale), isDefault: settings.limits[field] === undefined }));
  }
  lines.push(t.adminSettingsGlobal({ cap: globalDailyCap }));
  const { moderation } = settings;
  lines.push(t.adminSettingsRoles);
  const roleLines = Object.entries(moderation.roles).map(([id, rule]) => {
    const parts = [
      ...(rule.exempt ? [t.adminSettingsRoleExempt] : []),
      ...(rule.dailyLimit !== undefined ? [t.adminSettingsRolePerDay({ limit: rule.dailyLimit })] : []),
      ...(rule.weeklyLimit !== undefined ? [t.adminSettingsRolePerWeek({ limit: rule.weeklyLimit })] : []),
    ];
    return t.adminSettingsRole({ roleId: id, parts });
  });
  lines.push(...(roleLines.length ? roleLines : [t.adminSettingsNoRoles]));
  lines.push(t.adminSettingsRequiredRole({ roleId: moderation.requiredRoleId }));
  lines.push(t.adminSettingsBlocked);
  const blocked = Object.entries(moderation.blocked).map(([id, block]) => t.adminSettingsBlockedUser({ userId: id, reason: block.reason ? displayText(block.reason, 200) : null }));
  lines.push(...(blocked.length ? blocked : [t.adminSettingsNobody]));
  lines.push(t.adminSettingsWords({ count: moderation.bannedWords.length }));
  lines.push(t.adminSettingsChannels({ channels: moderation.allowedChannelIds.map((id) => `<#${id}>`) }));
  lines.push(t.adminSettingsAudit({ channelId: moderation.auditChannelId }));
  return fitMessage(lines.join('\n'), locale);
}

/** One user's use of the bot in a server, for `/pika-admin usage user:`. */
export function renderUserUsage(userId: string, user: UserUsage, blocked: boolean, locale: Locale): string {
  const t = messagesFor(locale);
  return [
    t.adminUserUsageHeading({ userId }),
    t.adminUsageTotals({ day: user.dayCount, week: user.weekCount }),
    t.adminUserUsageRunning({ running: user.running.length }),
    t.adminUserUsageBonus({ bonus: user.bonus ?? 0 }),
    t.adminUserUsageBlocked({ blocked }),
  ].join('\n');
}

/** Keeps a listing within Discord's 2,000 characters. */
export function fitMessage(text: string, locale: Locale): string {
  const note = `\n${messagesFor(locale).adminListCut}`;
  return text.length <= LIMITS.content ? text : `${truncate(text, LIMITS.content - note.length)}${note}`;
}

/** `/pika-admin usage`: totals and the heaviest users of the day and the week. */
export function renderUsage(usage: GuildUsageReport, locale: Locale, top = 10): string {
  const t = messagesFor(locale);
  const ranking = (counts: Record<string, number>) => {
    const entries = Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).slice(0, top);
    return entries.length === 0 ? t.adminUsageNobody : entries.map(([userId, count], i) => t.adminUsageRank({ rank: i + 1, userId, count })).join('\n');
  };
  return [
    t.adminUsageHeading,
    t.adminUsageTotals({ day: usage.dayCount, week: usage.weekCount }),
    t.adminUsageTopToday,
    ranking(usage.dayByUser),
    t.adminUsageTopWeek,
    ranking(usage.weekByUser),
  ].join('\n');
}
