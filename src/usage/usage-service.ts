import { randomUUID } from 'node:crypto';
import type { OperatorLimits } from '../config.js';
import { roleEffect } from '../moderation/policy.js';
import { effectiveRules, type GuildSettingsStore } from './guild-settings.js';
import {
  applyReservation,
  applySettlement,
  emptySnapshot,
  evaluateLimits,
  isOpen,
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
import { StoreTimeoutError } from '../storage.js';
import type { UsageBackend, Writes } from './usage-store.js';

export type ReserveOutcome = { ok: true; reservation: Reservation } | { ok: false; refusal: Refusal; rules: LimitRules };

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
const RESERVATION_PREFIX = 'reservation:';
const userKey = (guildId: string, userId: string) => `user:${guildId}:${userId}`;
const guildKey = (guildId: string) => `guild:${guildId}`;
const reservationKey = (id: string) => `${RESERVATION_PREFIX}${id}`;
const counterKeys = (guildId: string, userId: string) => [userKey(guildId, userId), guildKey(guildId), GLOBAL_KEY];

/**
 * Usage limits over a backend: check-and-reserve as one atomic step before a generate call, and
 * settlement (keep or refund) exactly once when the task ends.
 */
export class UsageService {
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(private readonly deps: UsageServiceDeps) {
    this.now = deps.now ?? Date.now;
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
    const settings = await this.deps.settings.get(guildId);
    return { ...effectiveRules(settings, this.deps.operator, roleIds), exempt: roleEffect(settings.moderation.roles, roleIds).exempt };
  }

  /**
   * Checks every limit and, if none is hit, counts the video as started, atomically. A store that
   * stalls must not make the command miss Discord's 3-second window: past `reserveTimeoutMs`
   * this fails with a store error, and a reservation that still completes later is refunded.
   */
  async reserve(guildId: string, userId: string, roleIds: readonly string[] = []): Promise<ReserveOutcome> {
    const attempt = this.reserveNow(guildId, userId, roleIds);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeoutError()), this.deps.reserveTimeoutMs ?? 2000);
    });
    try {
      return await Promise.race([attempt, timeout]);
    } catch (error) {
      if (error instanceof StoreTimeoutError) {
        void attempt.then((late) => (late.ok ? this.settle(late.reservation, 'refunded') : undefined)).catch(() => {});
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async reserveNow(guildId: string, userId: string, roleIds: readonly string[]): Promise<ReserveOutcome> {
    const rules = await this.rulesFor(guildId, roleIds);
    const keys = counterKeys(guildId, userId);
    return this.deps.backend.transact<ReserveOutcome>(keys, (values) => {
      const now = this.now();
      const snapshot = rollOver(readSnapshot(values, keys, now), now);
      const { refusal, usesBonus } = this.isOwner(userId)
        ? { refusal: null, usesBonus: false }
        : evaluateLimits(rules, this.deps.operator.globalDailyCap, snapshot, now, rules.exempt);
      if (refusal) return { writes: [], result: { ok: false, refusal, rules } };
      const reservation: Reservation = {
        id: this.newId(),
        guildId,
        userId,
        day: snapshot.user.day,
        week: snapshot.user.week,
        startedAt: now,
        previousLastStartAt: snapshot.user.lastStartAt,
        ...(usesBonus ? { usedBonus: true } : {}),
      };
      // The reservation is written before the counters that make it open, so a crash in
      // between leaves at worst a stray record that start-up removes.
      const writes: Writes = [[reservationKey(reservation.id), reservation], ...counterWrites(keys, applyReservation(snapshot, reservation))];
      return { writes, result: { ok: true, reservation } };
    });
  }

  /** Keeps (delivered) or refunds a reservation; a second settlement of the same one is a no-op. */
  async settle(reservation: Pick<Reservation, 'id' | 'guildId' | 'userId'>, outcome: Settlement): Promise<boolean> {
    const keys = [...counterKeys(reservation.guildId, reservation.userId), reservationKey(reservation.id)];
    return this.deps.backend.transact(keys, (values) => {
      const now = this.now();
      const snapshot = rollOver(readSnapshot(values, keys, now), now);
      const stored = values.get(reservationKey(reservation.id)) as Reservation | undefined;
      if (!stored || !isOpen(snapshot, reservation.id)) {
        return { writes: stored ? [[reservationKey(reservation.id), undefined]] : [], result: false };
      }
      // Counters first, the record last: a crash in between leaves a record that is no longer open.
      const writes: Writes = [...counterWrites(keys, applySettlement(snapshot, stored, outcome)), [reservationKey(reservation.id), undefined]];
      return { writes, result: true };
    });
  }

  /**
   * Start-up repair: a crash between two writes can leave a user counting a video as running
   * whose reservation record is gone; such ids would hold a slot for ever. Removes them.
   */
  async repair(): Promise<number> {
    const entries = await this.deps.backend.list('');
    const reservations = new Set(entries.filter(([key]) => key.startsWith(RESERVATION_PREFIX)).map(([key]) => key.slice(RESERVATION_PREFIX.length)));
    let repaired = 0;
    for (const [key, value] of entries) {
      const user = value as UserUsage;
      if (!key.startsWith('user:') || !user?.running?.some((id) => !reservations.has(id))) continue;
      await this.deps.backend.transact([key], (values) => {
        const current = values.get(key) as UserUsage;
        const running = current.running.filter((id) => reservations.has(id));
        repaired += current.running.length - running.length;
        return { writes: [[key, { ...current, running }]], result: undefined };
      });
    }
    return repaired;
  }

  /** Reservations not yet settled (for start-up reconciliation). */
  async openReservations(): Promise<Reservation[]> {
    const records = await this.deps.backend.list(RESERVATION_PREFIX);
    return records.map(([, value]) => value as Reservation);
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

