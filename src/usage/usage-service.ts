import { randomUUID } from 'node:crypto';
import { processClock } from '../clock.js';
import type { OperatorLimits } from '../config.js';
import { roleEffect } from '../moderation/policy.js';
import { effectiveRules, USER_INSTALL_SCOPE, type GuildSettingsStore } from './guild-settings.js';
import {
  applyReservation,
  applySettlement,
  emptySnapshot,
  evaluateLimits,
  guildUsageOf,
  isOpen,
  markStarted,
  markWaiting,
  mayStart,
  quotaView,
  rollOver,
  type GlobalUsage,
  type GuildUsage,
  type LimitRules,
  type QuotaView,
  type Refusal,
  type Reservation,
  type Settlement,
  type StoredGuildUsage,
  type UsageSnapshot,
  type UserUsage,
} from './limits.js';
import { answerWithin } from '../util/store-deadline.js';
import { isPromise, thenMaybe, type MaybePromise } from '../util/maybe-promise.js';
import type { Decided, UsageBackend, Writes } from './usage-store.js';

/** `waiting`: reserved, but to wait in the queue before it may start. */
export type ReserveOutcome = { ok: true; reservation: Reservation; waiting: boolean } | { ok: false; refusal: Refusal; rules: LimitRules };
/** A reservation decided: `stored` settles once it is stored (and rejects if it never is). */
export type DecidedReservation = (Extract<ReserveOutcome, { ok: true }> & { stored: Promise<void> }) | Extract<ReserveOutcome, { ok: false }>;

/** A server's usage for its moderators: its totals, and each member's counts in the same day and week. */
export interface GuildUsageReport extends GuildUsage {
  dayByUser: Record<string, number>;
  weekByUser: Record<string, number>;
}

/**
 * How a reservation may wait instead of being refused for the concurrent-video limit: up to
 * `maxWaiting` per user; `mustWait` when it waits anyway (the provider's slots are all taken).
 */
export interface QueueOptions {
  maxWaiting: number;
  mustWait: boolean;
}

export interface UsageServiceDeps {
  backend: UsageBackend;
  /** Longest a reservation may take before the command is answered with an error (default 2 s). */
  reserveTimeoutMs?: number;
  settings: GuildSettingsStore;
  operator: OperatorLimits;
  now?: () => number;
  newId?: () => string;
}

const GLOBAL_KEY = 'global';
/**
 * Each open reservation is a record of its own (`open:<id>`), written in the same transaction as
 * its counters; start-up lists them by their prefix. One record of all of them would be
 * rewritten, whole, by every reservation and every settlement.
 */
const OPEN_PREFIX = 'open:';
/** The prefixes UsageService lists in the course of its work (not only in a migration): a shared backend may keep them listed. */
export const LISTED_USAGE_PREFIXES: readonly string[] = [OPEN_PREFIX];
const openKey = (id: string) => `${OPEN_PREFIX}${id}`;
/** Which way the store keeps open reservations; written once a store holds them as `open:` records. */
const LAYOUT_KEY = 'layout';
const OPEN_RECORDS_LAYOUT = 'open-records';
/** Where open reservations were kept before, all in one record, by id. */
const OPEN_INDEX_KEY = 'open-reservations';
/** And before that: each in a record of its own, written apart from the counters. */
const LEGACY_RESERVATION_PREFIX = 'reservation:';
const USER_PREFIX = 'user:';
const userKey = (guildId: string, userId: string) => `${USER_PREFIX}${guildId}:${userId}`;
const guildKey = (guildId: string) => `guild:${guildId}`;
const counterKeys = (guildId: string, userId: string) => [userKey(guildId, userId), guildKey(guildId), GLOBAL_KEY];
/** The keys a reservation changes: its counters, then its own record. */
const reservationKeys = (guildId: string, userId: string, id: string) => [...counterKeys(guildId, userId), openKey(id)];

/**
 * Usage limits over a backend: check-and-reserve as one atomic step before a generate call, and
 * settlement exactly once when the task ends. A reservation is open while its user counts it as
 * running, and it has its own `open:` record for exactly as long: both change in the same
 * transaction.
 */
export class UsageService {
  private readonly now: () => number;
  private readonly newId: () => string;
  private migrated: Promise<void> | undefined;
  /** Set once the store is migrated: from then on a reservation need not wait for it. */
  private migratedAlready = false;

  constructor(private readonly deps: UsageServiceDeps) {
    this.now = deps.now ?? processClock;
    this.newId = deps.newId ?? randomUUID;
  }

  get globalDailyCap(): number | null {
    return this.deps.operator.globalDailyCap;
  }

  isOwner(userId: string): boolean {
    return this.deps.operator.ownerIds.has(userId);
  }

  /** The rules for a member with `roleIds` (role allowances applied), and whether a role exempts them; at once when the server's settings are in memory. */
  rulesFor(guildId: string, roleIds: readonly string[] = []): MaybePromise<LimitRules & { exempt: boolean }> {
    if (guildId === USER_INSTALL_SCOPE) {
      // No server's moderators are involved: the operator's defaults, with the user-install allowances and no server cap.
      const { defaults, userInstall } = this.deps.operator;
      return { ...defaults, ...userInstall, serverDailyCap: null, exempt: false };
    }
    return thenMaybe(this.deps.settings.get(guildId), (settings) => ({
      ...effectiveRules(settings, this.deps.operator, roleIds),
      exempt: roleEffect(settings.moderation.roles, roleIds).exempt,
    }));
  }

  /**
   * Checks every limit and, if none is hit, counts the video as started, atomically, and stored.
   * `id` names the reservation (a fresh one by default); naming one that is still open fails.
   */
  async reserve(guildId: string, userId: string, roleIds: readonly string[] = [], id: string = this.newId(), queue?: QueueOptions): Promise<ReserveOutcome> {
    const outcome = await this.decideReservation(guildId, userId, roleIds, id, queue);
    if (outcome.ok) await outcome.stored;
    return outcome;
  }

  /**
   * `reserve`, answered once the limits are decided (in memory on SQLite): every later
   * reservation already counts this one, and `stored` settles once it is stored. Nothing may be
   * sent upstream before that; a command's reply can be deferred meanwhile.
   *
   * A store that stalls must not make the command miss Discord's 3-second window: past
   * `reserveTimeoutMs` the decision, and then the store, fail with a store error, and a
   * reservation that still completes later is refunded.
   */
  decideReservation(guildId: string, userId: string, roleIds: readonly string[] = [], id: string = this.newId(), queue?: QueueOptions): MaybePromise<DecidedReservation> {
    const timeoutMs = this.deps.reserveTimeoutMs ?? 2000;
    const decision = this.reserveNow(guildId, userId, roleIds, id, queue);
    // Decided in memory, it cannot stall; only a decision that waits for the store has a deadline.
    if (!isPromise(decision)) return this.storedWithin(decision, timeoutMs);
    const refundLate = ({ result, stored }: Decided<ReserveOutcome>) => {
      if (result.ok) void stored.then(() => this.settle(result.reservation, 'refunded')).catch(() => {});
    };
    return answerWithin(decision, timeoutMs, refundLate).then((decided) => this.storedWithin(decided, timeoutMs));
  }

  private storedWithin({ result, stored }: Decided<ReserveOutcome>, timeoutMs: number): DecidedReservation {
    if (!result.ok) return result;
    const reservation = result.reservation;
    const storedInTime = answerWithin(stored, timeoutMs, () => void this.settle(reservation, 'refunded').catch(() => {}));
    // Handled here too: a caller that gave up on the request (its deferral failed) never awaits it.
    storedInTime.catch(() => {});
    return { ...result, stored: storedInTime };
  }

  private reserveNow(guildId: string, userId: string, roleIds: readonly string[], id: string, queue: QueueOptions | undefined): MaybePromise<Decided<ReserveOutcome>> {
    const rules = this.migratedAlready ? this.rulesFor(guildId, roleIds) : Promise.all([this.rulesFor(guildId, roleIds), this.whenMigrated()]).then(([rules]) => rules);
    return thenMaybe(rules, (rules) => this.decideWith(rules, guildId, userId, id, queue));
  }

  private decideWith(rules: LimitRules & { exempt: boolean }, guildId: string, userId: string, id: string, queue: QueueOptions | undefined): MaybePromise<Decided<ReserveOutcome>> {
    const keys = reservationKeys(guildId, userId, id);
    return this.deps.backend.decide<ReserveOutcome>(keys, (values) => {
      if (values.get(openKey(id)) !== undefined) throw new Error(`reservation ${id} is already open`);
      const now = this.now();
      const snapshot = rollOver(readSnapshot(values, keys, now), now);
      const owner = this.isOwner(userId);
      // With a queue, the concurrent-video limit decides when the video starts, not whether (a limit of 0 still switches videos off).
      const { refusal, usesBonus } = owner
        ? { refusal: null, usesBonus: false }
        : evaluateLimits(queue && rules.maxConcurrent !== 0 ? { ...rules, maxConcurrent: null } : rules, this.deps.operator.globalDailyCap, snapshot, now, rules.exempt);
      if (refusal) return { writes: [], result: { ok: false, refusal, rules } };
      const waits = queue !== undefined && (queue.mustWait || (!owner && !rules.exempt && !mayStart(rules, snapshot.user)));
      const waiting = snapshot.user.waiting?.length ?? 0;
      if (waits && waiting >= queue.maxWaiting) {
        return { writes: [], result: { ok: false, refusal: { limit: 'queue', retryAt: undefined, hits: ['queue'], waiting }, rules } };
      }
      const reservation: Reservation = {
        id,
        guildId,
        userId,
        day: snapshot.user.day,
        week: snapshot.user.week,
        startedAt: now,
        previousLastStartAt: snapshot.user.lastStartAt,
        ...(usesBonus ? { usedBonus: true } : {}),
      };
      const reserved = applyReservation(snapshot, reservation);
      const counted = waits ? { ...reserved, user: markWaiting(reserved.user, id) } : reserved;
      const writes: Writes = [...counterWrites(keys, counted), [openKey(id), reservation]];
      return { writes, result: { ok: true, reservation, waiting: waits } };
    });
  }

  /**
   * Lets a waiting reservation start if the user's concurrent-video limit (as it stands now) has
   * room, atomically; true once it counts as in progress (also if it never waited).
   */
  async startWaiting(reservation: Pick<Reservation, 'id' | 'guildId' | 'userId'>, roleIds: readonly string[] = []): Promise<boolean> {
    const rules = await this.rulesFor(reservation.guildId, roleIds);
    const keys = counterKeys(reservation.guildId, reservation.userId);
    return this.deps.backend.transact(keys, (values) => {
      const now = this.now();
      const { user } = rollOver(readSnapshot(values, keys, now), now);
      if (!user.waiting?.includes(reservation.id)) return { writes: [], result: true };
      const free = this.isOwner(reservation.userId) || rules.exempt || mayStart(rules, user);
      return free ? { writes: [[keys[0]!, markStarted(user, reservation.id)]], result: true } : { writes: [], result: false };
    });
  }

  /** Settles a reservation (see Settlement); a second settlement of the same one is a no-op and returns false. */
  async settle(reservation: Pick<Reservation, 'id' | 'guildId' | 'userId'>, outcome: Settlement): Promise<boolean> {
    await this.whenMigrated();
    const keys = reservationKeys(reservation.guildId, reservation.userId, reservation.id);
    return this.deps.backend.transact(keys, (values) => {
      const stored = values.get(openKey(reservation.id)) as Reservation | undefined;
      if (!stored) return { writes: [], result: false };
      const now = this.now();
      const snapshot = rollOver(readSnapshot(values, keys, now), now);
      const writes: Writes = [...counterWrites(keys, applySettlement(snapshot, stored, outcome)), [openKey(reservation.id), undefined]];
      // Not simply true: a store migrated from before the index can hold a record its user no
      // longer runs (its settlement was counted, the crash came before its record's delete).
      return { writes, result: isOpen(snapshot, reservation.id) };
    });
  }

  /** Reservations not yet settled (for start-up reconciliation): one listing by prefix. */
  async openReservations(): Promise<Reservation[]> {
    await this.whenMigrated();
    return (await this.deps.backend.list(OPEN_PREFIX)).map(([, reservation]) => reservation as Reservation);
  }

  /** Resolves once the store keeps open reservations as records of their own: migrated at first use, retried on the next use if that failed. */
  private whenMigrated(): Promise<void> {
    this.migrated ??= this.migrate().then(
      () => void (this.migratedAlready = true),
      (error: unknown) => {
        this.migrated = undefined;
        throw error;
      },
    );
    return this.migrated;
  }

  /**
   * Once per store: gives each open reservation a record of its own, in one transaction, from
   * either earlier layout. From the index: its entries. From before the index, when each open
   * reservation had a `reservation:<id>` record written apart from the counters, so a crash could
   * leave a user running an id with no record, holding that slot for ever: those records, and the
   * running ids that have none are dropped. The reconciliation that follows refunds the records
   * whose video no task is making, as before.
   */
  private async migrate(): Promise<void> {
    const { backend } = this.deps;
    if ((await backend.get(LAYOUT_KEY)) === OPEN_RECORDS_LAYOUT) return;
    const index = (await backend.get(OPEN_INDEX_KEY)) as Record<string, Reservation> | undefined;
    const entries = index ? [] : await backend.list('');
    const legacyKeys = entries.filter(([key]) => key.startsWith(LEGACY_RESERVATION_PREFIX)).map(([key]) => key);
    const recorded = new Set(legacyKeys.map((key) => key.slice(LEGACY_RESERVATION_PREFIX.length)));
    const tornUserKeys = entries
      .filter(([key, user]) => key.startsWith(USER_PREFIX) && (user as UserUsage).running.some((id) => !recorded.has(id)))
      .map(([key]) => key);
    const openIds = index ? Object.keys(index) : [...recorded];
    await backend.transact([LAYOUT_KEY, OPEN_INDEX_KEY, ...legacyKeys, ...tornUserKeys, ...openIds.map(openKey)], (values) => {
      // Another process may have migrated the store since it was looked at: it is not done twice.
      if (values.get(LAYOUT_KEY) === OPEN_RECORDS_LAYOUT) return { writes: [], result: undefined };
      const open = index ? Object.values(values.get(OPEN_INDEX_KEY) as Record<string, Reservation>) : legacyKeys.map((key) => values.get(key) as Reservation);
      const openNow = new Set(open.map(({ id }) => id));
      const writes: Writes = [
        ...open.map((reservation) => [openKey(reservation.id), reservation] as const),
        ...tornUserKeys.map((key) => {
          const user = values.get(key) as UserUsage;
          return [key, { ...user, running: user.running.filter((id) => openNow.has(id)) }] as const;
        }),
        [LAYOUT_KEY, OPEN_RECORDS_LAYOUT],
        ...legacyKeys.map((key) => [key, undefined] as const),
        ...(index ? [[OPEN_INDEX_KEY, undefined] as const] : []),
      ];
      return { writes, result: undefined };
    });
  }

  /** Gives a user `videos` extra videos, used once their allowance runs out. */
  async grant(guildId: string, userId: string, videos: number): Promise<number> {
    return this.updateUser(guildId, userId, (user) => ({ ...user, bonus: Math.max(0, (user.bonus ?? 0) + videos) })).then((u) => u.bonus ?? 0);
  }

  /** Forgets a user's use of the day and the week, and their cooldown (videos in progress stay). */
  async resetUsage(guildId: string, userId: string): Promise<void> {
    await this.updateUser(guildId, userId, (user) => ({ ...user, dayCount: 0, weekCount: 0, lastStartAt: null }));
  }

  private updateUser(guildId: string, userId: string, change: (user: UserUsage) => UserUsage): Promise<UserUsage> {
    const keys = counterKeys(guildId, userId);
    return this.deps.backend.transact(keys, (values) => {
      const now = this.now();
      const user = change(rollOver(readSnapshot(values, keys, now), now).user);
      return { writes: [[keys[0]!, user]], result: user };
    });
  }

  async quota(guildId: string, userId: string, roleIds: readonly string[] = []): Promise<{ rules: LimitRules; view: QuotaView; owner: boolean; exempt: boolean }> {
    const rules = await this.rulesFor(guildId, roleIds);
    const keys = counterKeys(guildId, userId);
    const values = new Map(await Promise.all(keys.map(async (key) => [key, await this.deps.backend.get(key)] as const)));
    const now = this.now();
    const snapshot = rollOver(readSnapshot(values, keys, now), now);
    return { rules, view: quotaView(rules, snapshot, now), owner: this.isOwner(userId), exempt: rules.exempt };
  }

  /** One user's counters in a server, rolled over to now. */
  async userUsage(guildId: string, userId: string): Promise<UserUsage> {
    const now = this.now();
    const stored = (await this.deps.backend.get(userKey(guildId, userId))) as UserUsage | undefined;
    const empty = emptySnapshot(now);
    return rollOver({ ...empty, user: stored ?? empty.user }, now).user;
  }

  /**
   * The server's usage in the current day and week, rolled over to now, with each member's own
   * counts (a scan of the server's user records: a moderator's question, not a command's).
   */
  async guildUsage(guildId: string): Promise<GuildUsageReport> {
    const now = this.now();
    const usersPrefix = `${USER_PREFIX}${guildId}:`;
    const [stored, users] = await Promise.all([this.deps.backend.get(guildKey(guildId)), this.deps.backend.list(usersPrefix)]);
    const empty = emptySnapshot(now);
    const report: GuildUsageReport = { ...rollOver({ ...empty, guild: storedGuild(stored) ?? empty.guild }, now).guild, dayByUser: {}, weekByUser: {} };
    for (const [key, value] of users) {
      const user = rollOver({ ...empty, user: value as UserUsage }, now).user;
      const userId = key.slice(usersPrefix.length);
      if (user.dayCount > 0) report.dayByUser[userId] = user.dayCount;
      if (user.weekCount > 0) report.weekByUser[userId] = user.weekCount;
    }
    return report;
  }
}

function readSnapshot(values: Map<string, unknown>, keys: readonly string[], now: number): UsageSnapshot {
  const empty = emptySnapshot(now);
  const [user, guild, global] = keys.map((key) => values.get(key)) as [UserUsage | undefined, unknown, GlobalUsage | undefined];
  return { user: user ?? empty.user, guild: storedGuild(guild) ?? empty.guild, global: global ?? empty.global };
}

function storedGuild(stored: unknown): GuildUsage | undefined {
  return stored === undefined ? undefined : guildUsageOf(stored as StoredGuildUsage);
}

function counterWrites(keys: readonly string[], snapshot: UsageSnapshot): Writes {
  const [user, guild, global] = keys as [string, string, string];
  return [
    [user, snapshot.user],
    [guild, snapshot.guild],
    [global, snapshot.global],
  ];
}

