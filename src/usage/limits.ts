/**
 * The usage rules, as pure functions of the stored counters and an injected clock: whether a
 * user may start a video now, what a reservation changes, and what settling it changes.
 * Nothing here does I/O, so the rules can be tested exhaustively and any store can back them.
 */

/** A limit's value: a number, or `null` for unlimited. */
export type Limit = number | null;

/** The rules in force in one server. */
export interface LimitRules {
  /** Videos per user per UTC day. */
  dailyLimit: Limit;
  /** Videos per user per ISO week (Monday to Sunday, UTC). */
  weeklyLimit: Limit;
  /** Seconds a user waits between starting two videos. */
  cooldownSeconds: number;
  /** Videos one user may have in progress at once. */
  maxConcurrent: Limit;
  /** Videos per UTC day for the whole server. */
  serverDailyCap: Limit;
}

export interface UserUsage {
  day: string;
  dayCount: number;
  week: string;
  weekCount: number;
  lastStartAt: number | null;
  /** Ids of this user's open reservations (videos in progress or queued): what makes a reservation open. */
  running: string[];
  /** Those of `running` still waiting in the queue: counted in the allowance, not yet started. */
  waiting?: string[];
  /** Extra videos a moderator granted, used once the daily or weekly allowance runs out. */
  bonus?: number;
}

/**
 * A server's totals: videos delivered or in progress in the current day / week. Totals, not
 * counts by user (each user's own record has those): a reservation changes and stores this record,
 * and a busy server's counts by user would make that grow with its members.
 */
export interface GuildUsage {
  day: string;
  week: string;
  dayCount: number;
  weekCount: number;
}

/** How servers' records were kept before their totals: by user. Read, never written. */
interface LegacyGuildUsage {
  day: string;
  week: string;
  dayByUser: Record<string, number>;
  weekByUser: Record<string, number>;
}

export type StoredGuildUsage = GuildUsage | LegacyGuildUsage;

/** A stored server record as a GuildUsage, whichever way it was kept. */
export function guildUsageOf(stored: StoredGuildUsage): GuildUsage {
  if (!('dayByUser' in stored)) return stored;
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((total, n) => total + n, 0);
  return { day: stored.day, week: stored.week, dayCount: sum(stored.dayByUser), weekCount: sum(stored.weekByUser) };
}

export interface Reservation {
  id: string;
  guildId: string;
  userId: string;
  /** The periods it was counted in, so a refund after a roll-over takes nothing back. */
  day: string;
  week: string;
  startedAt: number;
  /** The user's previous start, restored on refund so a failed video costs no cooldown. */
  previousLastStartAt: number | null;
  /** Paid for with a granted extra video, given back on refund. */
  usedBonus?: boolean;
}

export interface GlobalUsage {
  day: string;
  dayCount: number;
}

export interface UsageSnapshot {
  user: UserUsage;
  guild: GuildUsage;
  global: GlobalUsage;
}

/** `queue`: over the concurrent-video limit with the most commands already waiting. */
export type LimitName = 'concurrency' | 'queue' | 'cooldown' | 'daily' | 'weekly' | 'server' | 'global';

export interface Refusal {
  /** The limit that holds the user back longest: the one to tell them about. */
  limit: LimitName;
  /** When trying again can succeed; undefined when it depends on a video finishing. */
  retryAt: number | undefined;
  /** Every limit hit, in checking order. */
  hits: LimitName[];
  /** For `queue`: how many of the user's commands are waiting. */
  waiting?: number;
}

const DAY_MS = 86_400_000;

/** `2026-11-24`: the UTC calendar day. */
export function utcDay(now: number): string {
  return calendarDay(now).day;
}

/** `2026-W48`: the ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(now: number): string {
  return calendarDay(now).week;
}

/** The last UTC day asked for, named as a day and as a week: every reservation asks for both several times. */
let lastDay: { index: number; day: string; week: string } | undefined;

function calendarDay(now: number): { day: string; week: string } {
  const index = Math.floor(now / DAY_MS);
  if (lastDay?.index !== index) {
    const date = new Date(index * DAY_MS);
    lastDay = { index, day: date.toISOString().slice(0, 10), week: weekOf(date) };
  }
  return lastDay;
}

function weekOf(dayStart: Date): string {
  const thursday = new Date(dayStart);
  const isoWeekday = thursday.getUTCDay() || 7; // Monday = 1 … Sunday = 7
  thursday.setUTCDate(thursday.getUTCDate() + 4 - isoWeekday); // the Thursday of this week decides its year
  const year = thursday.getUTCFullYear();
  const week = Math.ceil(((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

export function nextUtcMidnight(now: number): number {
  return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
}

/** The next Monday 00:00 UTC. */
export function nextIsoWeekStart(now: number): number {
  const dayStart = Math.floor(now / DAY_MS) * DAY_MS;
  const weekday = (new Date(dayStart).getUTCDay() + 6) % 7;
  return dayStart + (7 - weekday) * DAY_MS;
}

export function emptySnapshot(now: number): UsageSnapshot {
  return {
    user: { day: utcDay(now), dayCount: 0, week: isoWeek(now), weekCount: 0, lastStartAt: null, running: [] },
    guild: { day: utcDay(now), week: isoWeek(now), dayCount: 0, weekCount: 0 },
    global: { day: utcDay(now), dayCount: 0 },
  };
}

/**
 * Brings stored counters to the current day and week (counts of past periods drop to zero). A
 * stored period later than `now`'s is kept with its counts: the wall clock stepped back (across
 * a restart, say), and a day's use must not be forgotten for a second pass through it. ISO days
 * and weeks compare as strings.
 */
export function rollOver(snapshot: UsageSnapshot, now: number): UsageSnapshot {
  const day = utcDay(now);
  const week = isoWeek(now);
  const { user, guild, global } = snapshot;
  return {
    user: {
      ...user,
      ...(user.day >= day ? {} : { day, dayCount: 0 }),
      ...(user.week >= week ? {} : { week, weekCount: 0 }),
    },
    guild: {
      ...(guild.day >= day ? { day: guild.day, dayCount: guild.dayCount } : { day, dayCount: 0 }),
      ...(guild.week >= week ? { week: guild.week, weekCount: guild.weekCount } : { week, weekCount: 0 }),
    },
    global: global.day >= day ? global : { day, dayCount: 0 },
  };
}

type Hit = { limit: LimitName; retryAt: number | undefined };

/** Allowances and caps: the limits that last until a reset, outranking what a video's end frees. */
const PERIOD_LIMITS: ReadonlySet<LimitName> = new Set(['daily', 'weekly', 'server', 'global']);

/**
 * Whether the user may start a video now, and if not, the limit that holds them back longest:
 * an allowance or cap hit (the one that resets last; ties go to the wider one), else a video in
 * progress, else the cooldown. `retryAt` is when trying again can succeed: the latest reset of
 * the allowances and caps hit, the end of the cooldown, or undefined while it depends on a video
 * finishing. `snapshot` must be rolled over to `now`.
 */
export function checkLimits(rules: LimitRules, globalDailyCap: Limit, snapshot: UsageSnapshot, now: number): Refusal | null {
  const { user, guild, global } = snapshot;
  const hits: Hit[] = [];
  if (rules.maxConcurrent !== null && startedCount(user) >= rules.maxConcurrent) {
    hits.push({ limit: 'concurrency', retryAt: undefined });
  }
  if (rules.cooldownSeconds > 0 && user.lastStartAt !== null && now < user.lastStartAt + rules.cooldownSeconds * 1000) {
    hits.push({ limit: 'cooldown', retryAt: user.lastStartAt + rules.cooldownSeconds * 1000 });
  }
  if (rules.dailyLimit !== null && user.dayCount >= rules.dailyLimit) {
    hits.push({ limit: 'daily', retryAt: nextUtcMidnight(now) });
  }
  if (rules.weeklyLimit !== null && user.weekCount >= rules.weeklyLimit) {
    hits.push({ limit: 'weekly', retryAt: nextIsoWeekStart(now) });
  }
  if (rules.serverDailyCap !== null && guild.dayCount >= rules.serverDailyCap) {
    hits.push({ limit: 'server', retryAt: nextUtcMidnight(now) });
  }
  if (globalDailyCap !== null && global.dayCount >= globalDailyCap) {
    hits.push({ limit: 'global', retryAt: nextUtcMidnight(now) });
  }
  if (hits.length === 0) return null;
  const periods = hits.filter((hit) => PERIOD_LIMITS.has(hit.limit));
  const binding =
    periods.reduce<Hit | undefined>((best, hit) => (best && best.retryAt! > hit.retryAt! ? best : hit), undefined) ??
    hits.find((hit) => hit.limit === 'concurrency') ??
    hits[0]!;
  const retryAt = periods.length > 0 ? Math.max(...hits.flatMap((hit) => (hit.retryAt === undefined ? [] : [hit.retryAt]))) : binding.retryAt;
  return { limit: binding.limit, retryAt, hits: hits.map((hit) => hit.limit) };
}

const UNLIMITED_FOR_ONE: Pick<LimitRules, 'dailyLimit' | 'weeklyLimit'> = { dailyLimit: null, weeklyLimit: null };
const NO_SERVER_LIMITS: LimitRules = { dailyLimit: null, weeklyLimit: null, cooldownSeconds: 0, maxConcurrent: null, serverDailyCap: null };

export interface Evaluation {
  refusal: Refusal | null;
  /** The video is allowed only by spending one of the user's granted extra videos. */
  usesBonus: boolean;
}

/**
 * `checkLimits` with the moderators' exceptions: an exempt member answers only to the
 * operator's cap, and granted extra videos cover a spent daily or weekly allowance.
 */
export function evaluateLimits(rules: LimitRules, globalDailyCap: Limit, snapshot: UsageSnapshot, now: number, exempt: boolean): Evaluation {
  const refusal = checkLimits(exempt ? NO_SERVER_LIMITS : rules, globalDailyCap, snapshot, now);
  if (!refusal || (refusal.limit !== 'daily' && refusal.limit !== 'weekly') || (snapshot.user.bonus ?? 0) <= 0) {
    return { refusal, usesBonus: false };
  }
  const withoutAllowance = checkLimits({ ...rules, ...UNLIMITED_FOR_ONE }, globalDailyCap, snapshot, now);
  return withoutAllowance ? { refusal, usesBonus: false } : { refusal: null, usesBonus: true };
}

/** Counts a video as started: every counter goes up and the reservation is recorded as open. */
export function applyReservation(snapshot: UsageSnapshot, reservation: Reservation): UsageSnapshot {
  const { user, guild, global } = snapshot;
  return {
    user: {
      ...user,
      dayCount: user.dayCount + 1,
      weekCount: user.weekCount + 1,
      lastStartAt: reservation.startedAt,
      running: [...user.running, reservation.id],
      ...(reservation.usedBonus ? { bonus: Math.max(0, (user.bonus ?? 0) - 1) } : {}),
    },
    guild: { ...guild, dayCount: guild.dayCount + 1, weekCount: guild.weekCount + 1 },
    global: { ...global, dayCount: global.dayCount + 1 },
  };
}

/** The user's videos in progress, not counting those waiting in the queue. */
export function startedCount(user: UserUsage): number {
  return user.running.length - (user.waiting?.length ?? 0);
}

/** Counts a reservation as waiting in the queue (it already counts in the allowance). */
export function markWaiting(user: UserUsage, reservationId: string): UserUsage {
  return { ...user, waiting: [...(user.waiting ?? []), reservationId] };
}

/** Whether a waiting reservation may start: the user's concurrent-video limit has room for it. */
export function mayStart(rules: Pick<LimitRules, 'maxConcurrent'>, user: UserUsage): boolean {
  return rules.maxConcurrent === null || startedCount(user) < rules.maxConcurrent;
}

/** A waiting reservation starts: it leaves the queue and counts as in progress. */
export function markStarted(user: UserUsage, reservationId: string): UserUsage {
  const waiting = (user.waiting ?? []).filter((id) => id !== reservationId);
  const { waiting: _old, ...rest } = user;
  return waiting.length > 0 ? { ...rest, waiting } : rest;
}

/** A reservation is open while its user still counts it as running. */
export function isOpen(snapshot: UsageSnapshot, reservationId: string): boolean {
  return snapshot.user.running.includes(reservationId);
}

/**
 * How a reservation ends. `delivered`: the user got the video, every count stays. `refunded`: no
 * video and no bill, every count is given back. `billed`: no video, but the generate call was (or
 * may have been) billed, so the user and the server get their allowance back while the
 * operator's global count, the ceiling on billed calls, keeps it.
 */
export type Settlement = 'delivered' | 'refunded' | 'billed';

/**
 * Settles a reservation as `outcome` says. What is given back is taken from the periods the
 * reservation was counted in (if those are still current), and the cooldown is restored.
 * Settling a reservation that is no longer open changes nothing, so it can never happen twice.
 */
export function applySettlement(snapshot: UsageSnapshot, reservation: Reservation, outcome: Settlement): UsageSnapshot {
  if (!isOpen(snapshot, reservation.id)) return snapshot;
  const { user, guild, global } = snapshot;
  const running = user.running.filter((id) => id !== reservation.id);
  const allowanceBack = outcome !== 'delivered';
  const billBack = outcome === 'refunded';
  const left = { ...markStarted(user, reservation.id), running };
  return {
    user: allowanceBack ? refundUser(left, reservation) : left,
    guild: allowanceBack ? refundGuild(guild, reservation) : guild,
    global: billBack && global.day === reservation.day ? { ...global, dayCount: Math.max(0, global.dayCount - 1) } : global,
  };
}

function refundUser(user: UserUsage, reservation: Reservation): UserUsage {
  return {
    ...user,
    dayCount: user.day === reservation.day ? Math.max(0, user.dayCount - 1) : user.dayCount,
    weekCount: user.week === reservation.week ? Math.max(0, user.weekCount - 1) : user.weekCount,
    lastStartAt: user.lastStartAt === reservation.startedAt ? reservation.previousLastStartAt : user.lastStartAt,
    ...(reservation.usedBonus ? { bonus: (user.bonus ?? 0) + 1 } : {}),
  };
}

function refundGuild(guild: GuildUsage, reservation: Reservation): GuildUsage {
  return {
    ...guild,
    dayCount: guild.day === reservation.day ? Math.max(0, guild.dayCount - 1) : guild.dayCount,
    weekCount: guild.week === reservation.week ? Math.max(0, guild.weekCount - 1) : guild.weekCount,
  };
}

/** What a user has left, for `/pika quota`. `snapshot` must be rolled over to `now`. */
export interface QuotaView {
  bonus: number;
  dailyLeft: Limit;
  weeklyLeft: Limit;
  dayResetsAt: number;
  weekResetsAt: number;
  cooldownUntil: number | null;
  running: number;
  /** Of those, the ones waiting in the queue. */
  waiting: number;
  maxConcurrent: Limit;
  serverLeftToday: Limit;
}

export function quotaView(rules: LimitRules, snapshot: UsageSnapshot, now: number): QuotaView {
  const { user, guild } = snapshot;
  const left = (limit: Limit, used: number) => (limit === null ? null : Math.max(0, limit - used));
  const cooldownUntil = user.lastStartAt === null ? null : user.lastStartAt + rules.cooldownSeconds * 1000;
  return {
    bonus: user.bonus ?? 0,
    dailyLeft: left(rules.dailyLimit, user.dayCount),
    weeklyLeft: left(rules.weeklyLimit, user.weekCount),
    dayResetsAt: nextUtcMidnight(now),
    weekResetsAt: nextIsoWeekStart(now),
    cooldownUntil: cooldownUntil !== null && cooldownUntil > now ? cooldownUntil : null,
    running: user.running.length,
    waiting: user.waiting?.length ?? 0,
    maxConcurrent: rules.maxConcurrent,
    serverLeftToday: left(rules.serverDailyCap, guild.dayCount),
  };
}
