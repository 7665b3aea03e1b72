import type { Job } from './job.js';

/**
 * What polling and delivery ask of the one owner of a job's current version (the job service):
 * they never keep a copy of their own, so no change can be lost to a stale one.
 */
export interface JobHooks {
  /** The current version of a job in progress. */
  current(id: string): Job;
  /** Applies `change` to the current version and stores it; a job's writes are stored in order. */
  update(id: string, change: (job: Job) => Job): Promise<void>;
  /** Ends the job: `change` takes the current version to `delivered` or `failed`. */
  end(id: string, change: (job: Job) => Job): Promise<void>;
  /** Starts delivering a job whose `delivering` state is stored. */
  deliver(id: string): void;
  /** Whether this process still carries the job (a worker that lost its hold on it must stop). */
  carries(id: string): boolean;
}
