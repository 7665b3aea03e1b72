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
  type UsageSnapshot,
  type UserUsage,
} from './limits.js';
import { answerWithin } from '../util/store-deadline.js';
import type { Decided, UsageBackend, Writes } from './usage-store.js';

/** `waiting`: reserved, but to wait in the queue before it may start. */
export type ReserveOutcome = { ok: true; reservation: Reservation; waiting: boolean } | { ok: false; refusal: Refusal; rules: LimitRules };
/** A reservation decided: `stored` settles once it is stored (and rejects if it never is). */
export type DecidedReservation = (Extract<ReserveOutcome, { ok: true }> & { stored: Promise<void> }) | Extract<ReserveOutcome, { ok: false }>;

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
 * Every open reservation, by id, in one record: start-up reads it instead of scanning the store.
 * Each reservation already locks GLOBAL_KEY, so locking this one too costs no concurrency.
 */
const OPEN_RESERVATIONS_KEY = 'open-reservations';
type OpenReservations = Record<string, Reservation>;
/** Where each open reservation was kept before the index, in stores that predate it. */
const LEGACY_RESERVATION_PREFIX = 'reservation:';
const USER_PREFIX = 'user:';
const userKey = (guildId: string, userId: string) => `${USER_PREFIX}${guildId}:${userId}`;
const guildKey = (guildId: string) => `guild:${guildId}`;
const counterKeys = (guildId: string, userId: string) => [userKey(guildId, userId), guildKey(guildId), GLOBAL_KEY];
/** The keys a reservation changes: its counters, then the index. */
const reservationKeys = (guildId: string, userId: string) => [...counterKeys(guildId, userId), OPEN_RESERVATIONS_KEY];

/**
 * Usage limits over a backend: check-and-reserve as one atomic step before a generate call, and
 * settlement exactly once when the task ends. A reservation is open while its user counts it as
 * running, and it is listed in the open-reservations index for exactly as long: both change in
 * the same transaction.
 */
export class UsageService {
  private readonly now: () => number;
  private readonly newId: () => string;
  private indexed: Promise<void> | undefined;

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

  /** The rules for a member with `roleIds` (role allowances applied), and whether a role exempts them. */
  async rulesFor(guildId: string, roleIds: readonly string[] = []): Promise<LimitRules & { exempt: boolean }> {
    if (guildId === USER_INSTALL_SCOPE) {
      // No server's moderators are involved: the operator's defaults, with the user-install allowances and no server cap.
      const { defaults, userInstall } = this.deps.operator;
      return { ...defaults, ...userInstall, serverDailyCap: null, exempt: false };
    }
    const settings = await this.deps.settings.get(guildId);
    return { ...effectiveRules(settings, this.deps.operator, roleIds), exempt: roleEffect(settings.moderation.roles, roleIds).exempt };
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
  async decideReservation(guildId: string, userId: string, roleIds: readonly string[] = [], id: string = this.newId(), queue?: QueueOptions): Promise<DecidedReservation> {
    const timeoutMs = this.deps.reserveTimeoutMs ?? 2000;
    const refundLate = ({ result, stored }: Decided<ReserveOutcome>) => {
      if (result.ok) void stored.then(() => this.settle(result.reservation, 'refunded')).catch(() => {});
    };
    const { result, stored } = await answerWithin(this.reserveNow(guildId, userId, roleIds, id, queue), timeoutMs, refundLate);
    if (!result.ok) return result;
    const reservation = result.reservation;
    const storedInTime = answerWithin(stored, timeoutMs, () => void this.settle(reservation, 'refunded').catch(() => {}));
    // Handled here too: a caller that gave up on the request (its deferral failed) never awaits it.
    storedInTime.catch(() => {});
    return { ...result, stored: storedInTime };
  }

  private async reserveNow(guildId: string, userId: string, roleIds: readonly string[], id: string, queue: QueueOptions | undefined): Promise<Decided<ReserveOutcome>> {
    const [rules] = await Promise.all([this.rulesFor(guildId, roleIds), this.whenIndexed()]);
    const keys = reservationKeys(guildId, userId);
    return this.deps.backend.decide<ReserveOutcome>(keys, (values) => {
      const open = openIn(values);
      if (open[id]) throw new Error(`reservation ${id} is already open`);
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
      // Changed in place, not copied: with thousands open, a copy per reservation is most of its cost.
      open[id] = reservation;
      const writes: Writes = [...counterWrites(keys, counted), [OPEN_RESERVATIONS_KEY, open]];
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
    await this.whenIndexed();
    const keys = reservationKeys(reservation.guildId, reservation.userId);
    return this.deps.backend.transact(keys, (values) => {
      const open = openIn(values);
      const stored = open[reservation.id];
      if (!stored) return { writes: [], result: false };
      const now = this.now();
      const snapshot = rollOver(readSnapshot(values, keys, now), now);
      delete open[reservation.id];
      const writes: Writes = [...counterWrites(keys, applySettlement(snapshot, stored, outcome)), [OPEN_RESERVATIONS_KEY, open]];
      // Not simply true: a store migrated from before the index can list one its user no longer
      // runs (its settlement was counted, the crash came before its record's delete).
      return { writes, result: isOpen(snapshot, reservation.id) };
    });
  }

  /** Reservations not yet settled (for start-up reconciliation): one read, however large the store. */
  async openReservations(): Promise<Reservation[]> {
    await this.whenIndexed();
    return Object.values(((await this.deps.backend.get(OPEN_RESERVATIONS_KEY)) ?? {}) as OpenReservations);
  }

  /** Resolves once the index exists: migrated at first use, retried on the next use if that failed. */
  private whenIndexed(): Promise<void> {
    this.indexed ??= this.migrateToIndex().catch((error: unknown) => {
      this.indexed = undefined;
      throw error;
    });
    return this.indexed;
  }

  /**
   * Stores from before the index kept each open reservation as its own `reservation:<id>` record,
   * written apart from the counters, so a crash could leave a user running an id with no record,
   * holding that slot for ever. Once: moves every such record into the index and drops the
   * running ids that have none, in one transaction; the reconciliation that follows refunds
   * the records whose video no task is making, as before.
   */
  private async migrateToIndex(): Promise<void> {
    const { backend } = this.deps;
    if ((await backend.get(OPEN_RESERVATIONS_KEY)) !== undefined) return;
    const entries = await backend.list('');
    const legacyKeys = entries.filter(([key]) => key.startsWith(LEGACY_RESERVATION_PREFIX)).map(([key]) => key);
    const recorded = new Set(legacyKeys.map((key) => key.slice(LEGACY_RESERVATION_PREFIX.length)));
    const tornUserKeys = entries
      .filter(([key, user]) => key.startsWith(USER_PREFIX) && (user as UserUsage).running.some((id) => !recorded.has(id)))
      .map(([key]) => key);
    await backend.transact([OPEN_RESERVATIONS_KEY, ...legacyKeys, ...tornUserKeys], (values) => {
      // Another process may have made the index since it was looked for: it is not made twice.
      if (values.get(OPEN_RESERVATIONS_KEY) !== undefined) return { writes: [], result: undefined };
      const open: OpenReservations = {};
      const writes: Writes = [[OPEN_RESERVATIONS_KEY, open]];
      for (const key of legacyKeys) {
        const reservation = values.get(key) as Reservation;
        open[reservation.id] = reservation;
        writes.push([key, undefined]);
      }
      for (const key of tornUserKeys) {
        const user = values.get(key) as UserUsage;
        writes.push([key, { ...user, running: user.running.filter((id) => open[id]) }]);
      }
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

  /** The server's usage in the current day and week, rolled over to now. */
  async guildUsage(guildId: string): Promise<GuildUsage> {
    const now = this.now();
    const stored = (await this.deps.backend.get(guildKey(guildId))) as GuildUsage | undefined;
    const empty = emptySnapshot(now);
    return rollOver({ ...empty, guild: stored ?? empty.guild }, now).guild;
  }
}

function openIn(values: Map<string, unknown>): OpenReservations {
  return (values.get(OPEN_RESERVATIONS_KEY) as OpenReservations | undefined) ?? {};
}

function readSnapshot(values: Map<string, unknown>, keys: readonly string[], now: number): UsageSnapshot {
  const empty = emptySnapshot(now);
  const [user, guild, global] = keys.map((key) => values.get(key)) as [UserUsage?, GuildUsage?, GlobalUsage?];
  return { user: user ?? empty.user, guild: guild ?? empty.guild, global: global ?? empty.global };
}

function counterWrites(keys: readonly string[], snapshot: UsageSnapshot): Writes {
  const [user, guild, global] = keys as [string, string, string];
  return [
    [user, snapshot.user],
    [guild, snapshot.guild],
    [global, snapshot.global],
  ];
}

