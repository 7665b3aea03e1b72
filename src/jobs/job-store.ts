import type Keyv from 'keyv';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { isEnded, type Job } from './job.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const OLDEST_HOUR_KEY = 'oldest-ended-hour';
/** `2026-12-01T13`: the UTC hour a job ended in. Hours, so no list grows with a whole day's jobs. */
const hourOf = (at: number) => new Date(at).toISOString().slice(0, 13);
const endedInKey = (hour: string) => `ended:${hour}`;
const nextHour = (hour: string) => hourOf(Date.parse(`${hour}:00:00Z`) + HOUR_MS);
/** A user's jobs in one server (or in DMs), oldest first: their history. */
const userKey = (scope: string, userId: string) => `user:${scope}:${userId}`;
/** The longest history kept per user and server; retention usually removes jobs well before. */
const MAX_USER_HISTORY = 1000;

/** One page of a user's history, newest first. */
export interface HistoryPage {
  jobs: Job[];
  /** Jobs in the history, on every page. */
  total: number;
  /** The page shown: the one asked for, or the last one when fewer are left. */
  page: number;
  pageCount: number;
}

/**
 * Job records over keyv, with two indexes: ended jobs by the UTC hour they ended, so retention
 * removes old history without listing the store, and each user's jobs per server, for their
 * history. Jobs still in progress need no index of their own: each holds an open usage
 * reservation with the same id, and those are indexed.
 */
export class JobStore {
  /** Per hour, the jobs waiting to be entered in its index by the next rewrite. */
  private readonly endedBatches = new Map<string, { ids: Set<string>; written: Promise<void> }>();

  /**
   * @param indexMutex serializes the read-modify-writes of indexes and annotations: across every
   *   process on a shared store (a history is written to by the gateway that took a command and
   *   the worker that ended it).
   */
  constructor(
    private readonly records: Keyv,
    private readonly index: Keyv,
    private readonly indexMutex: Pick<KeyedMutex, 'runExclusive'> = new KeyedMutex(),
  ) {}

  get(id: string): Promise<Job | undefined> {
    return this.records.get<Job>(id);
  }

  /**
   * Changes a stored job in place, one change at a time across processes (a deletion noted by a
   * gateway, a notification by a worker); answers the new version, or undefined where `change`
   * declines (answers undefined) or the job is gone.
   */
  change(id: string, change: (job: Job) => Job | undefined): Promise<Job | undefined> {
    return this.indexMutex.runExclusive([`job:${id}`], async () => {
      const job = await this.records.get<Job>(id);
      const next = job && change(job);
      if (next) await this.records.set(id, next);
      return next;
    });
  }

  /** Stores the job; a `first` save enters it in its requester's history, an ended one goes in the index of its hour. */
  async save(job: Job, { first = false } = {}): Promise<void> {
    await this.records.set(job.id, job);
    if (first) await this.indexForUser(job);
    if (isEnded(job) && job.endedAt !== undefined) await this.indexEnded(job.id, hourOf(job.endedAt));
  }

  private indexForUser({ id, reservation }: Job): Promise<void> {
    const key = userKey(reservation.guildId, reservation.userId);
    return this.indexMutex.runExclusive([key], async () => {
      const ids = (await this.index.get<string[]>(key)) ?? [];
      if (!ids.includes(id)) await this.index.set(key, [...ids, id].slice(-MAX_USER_HISTORY));
    });
  }

  /**
   * Page `page` (from 0) of a user's jobs in one server, newest first. Jobs removed by retention
   * are dropped from the history as they are met.
   */
  async history(scope: string, userId: string, page: number, pageSize: number): Promise<HistoryPage> {
    const key = userKey(scope, userId);
    for (;;) {
      const ids = ((await this.index.get<string[]>(key)) ?? []).slice().reverse();
      const pageCount = Math.max(1, Math.ceil(ids.length / pageSize));
      const shown = Math.min(Math.max(0, page), pageCount - 1);
      const wanted = ids.slice(shown * pageSize, (shown + 1) * pageSize);
      const found = await Promise.all(wanted.map((id) => this.records.get<Job>(id)));
      const gone = wanted.filter((_, i) => found[i] === undefined);
      if (gone.length === 0) return { jobs: found as Job[], total: ids.length, page: shown, pageCount };
      await this.indexMutex.runExclusive([key], async () => {
        const current = (await this.index.get<string[]>(key)) ?? [];
        await this.index.set(key, current.filter((id) => !gone.includes(id)));
      });
    }
  }

  /**
   * Enters a job in the index of the hour it ended. An hour's index is one list, rewritten whole:
   * the jobs that end while a rewrite waits for its turn join it, so a thousand videos finishing
   * together cost a few rewrites, not a thousand (each as long as the list).
   */
  private indexEnded(id: string, hour: string): Promise<void> {
    let batch = this.endedBatches.get(hour);
    if (!batch) {
      const ids = new Set<string>();
      const written = this.indexMutex.runExclusive([endedInKey(hour), OLDEST_HOUR_KEY], async () => {
        // Jobs ending from now on go in the next rewrite.
        this.endedBatches.delete(hour);
        const stored = (await this.index.get<string[]>(endedInKey(hour))) ?? [];
        const known = new Set(stored);
        const added = [...ids].filter((each) => !known.has(each));
        if (added.length > 0) await this.index.set(endedInKey(hour), [...stored, ...added]);
        const oldest = await this.index.get<string>(OLDEST_HOUR_KEY);
        if (oldest === undefined || hour < oldest) await this.index.set(OLDEST_HOUR_KEY, hour);
      });
      batch = { ids, written };
      this.endedBatches.set(hour, batch);
    }
    batch.ids.add(id);
    return batch.written;
  }

  /** Removes the jobs that ended more than `retentionDays` days before `now`; answers how many. */
  async removeEndedBefore(now: number, retentionDays: number): Promise<number> {
    const cutoff = hourOf(now - retentionDays * DAY_MS);
    let removed = 0;
    await this.indexMutex.runExclusive([OLDEST_HOUR_KEY], async () => {
      const oldest = await this.index.get<string>(OLDEST_HOUR_KEY);
      if (oldest === undefined) return;
      for (let hour = oldest; hour < cutoff; hour = nextHour(hour)) {
        const ids = (await this.index.get<string[]>(endedInKey(hour))) ?? [];
        for (const id of ids) {
          await this.records.delete(id);
          removed++;
        }
        await this.index.delete(endedInKey(hour));
        // Advanced hour by hour, so a failure half-way resumes where it stopped.
        await this.index.set(OLDEST_HOUR_KEY, nextHour(hour));
      }
    });
    return removed;
  }
}
