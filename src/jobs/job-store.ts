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

/**
 * Job records over keyv, and an index of ended jobs by the UTC hour they ended, so retention
 * removes old history without listing the store. Jobs still in progress need no index of their
 * own: each holds an open usage reservation with the same id, and those are indexed.
 */
export class JobStore {
  private readonly indexMutex = new KeyedMutex();

  constructor(
    private readonly records: Keyv,
    private readonly index: Keyv,
  ) {}

  get(id: string): Promise<Job | undefined> {
    return this.records.get<Job>(id);
  }

  /** Stores the job; an ended job is also entered in the index of its day. */
  async save(job: Job): Promise<void> {
    await this.records.set(job.id, job);
    if (isEnded(job) && job.endedAt !== undefined) await this.indexEnded(job.id, hourOf(job.endedAt));
  }

  private indexEnded(id: string, hour: string): Promise<void> {
    return this.indexMutex.runExclusive([endedInKey(hour), OLDEST_HOUR_KEY], async () => {
      const ids = (await this.index.get<string[]>(endedInKey(hour))) ?? [];
      if (!ids.includes(id)) await this.index.set(endedInKey(hour), [...ids, id]);
      const oldest = await this.index.get<string>(OLDEST_HOUR_KEY);
      if (oldest === undefined || hour < oldest) await this.index.set(OLDEST_HOUR_KEY, hour);
    });
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
