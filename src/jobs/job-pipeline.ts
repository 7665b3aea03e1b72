import { Queue, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

const QUEUE_NAME = 'jobs';
/** BullMQ's keys live beside the bot's own, under `pika:`. */
const PREFIX = 'pika:bullmq';
/** Times a job may be taken over from a worker that stopped renewing its hold before BullMQ gives up on it. */
const MAX_TAKEOVERS = 50;
/** A worker that failed unexpectedly (the store did not answer, say) is retried this often, then left to reconciliation. */
const ATTEMPTS = 8;
const FIRST_RETRY_MS = 1000;

/** How a job's turn at a worker ended: the job reached its end, or this process let it go (shutting down, or its hold lapsed). */
export type WorkOutcome = 'ended' | 'released';

/** What a worker process does with a job it was given: carries it to its end from the state its record is in. */
export interface JobWork {
  work(id: string): Promise<WorkOutcome>;
  /** The hold on a job was lost (another worker may have it now): stop working on it here, writing nothing more. */
  relinquish(id: string): void;
}

export interface JobPipelineOptions {
  /** Hold on a job without renewal; a dead worker's jobs are taken over after it (plus the check interval, half of it). */
  lockMs: number;
  concurrency: number;
  logger: Logger;
}

/**
 * BullMQ's id for a job record: derived from the record's id, so submitting a job twice (a
 * retry, reconciliation, two processes during a deploy) queues it once. BullMQ refuses ids that
 * contain `:` or look like integers, which the prefix rules out.
 */
export function queueJobId(recordId: string): string {
  if (!/^[\w-]+$/.test(recordId)) throw new Error(`job id "${recordId}" cannot name a queued job`);
  return `job-${recordId}`;
}

/**
 * The shared job pipeline of a Redis store, on BullMQ: a job record in progress is a queued
 * BullMQ job that any worker process may take and carry to its end. A worker renews its hold
 * while it works; one killed with -9 stops renewing, and another takes its jobs over. What the
 * taking worker does depends on the record alone (see JobService.work), so a job whose generate
 * may have been sent is never sent again. Ending a job completes its BullMQ job; a worker that
 * shuts down hands its jobs back at once.
 */
export class JobPipeline {
  private worker: Worker | undefined;

  private constructor(
    private readonly connection: Redis,
    private readonly queue: Queue,
    private readonly options: JobPipelineOptions,
  ) {}

  static async open(url: string, options: JobPipelineOptions): Promise<JobPipeline> {
    // Workers block on Redis and must wait out reconnections rather than fail their commands.
    const connection = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
    connection.on('error', (error) => options.logger.warn('the job queue lost its Redis connection; reconnecting', { error }));
    await connection.connect();
    const queue = new Queue(QUEUE_NAME, {
      connection,
      prefix: PREFIX,
      defaultJobOptions: {
        attempts: ATTEMPTS,
        backoff: { type: 'exponential', delay: FIRST_RETRY_MS },
        removeOnComplete: { count: 1000 },
        removeOnFail: { count: 1000 },
      },
    });
    queue.on('error', (error) => options.logger.warn('job queue error', { error }));
    await queue.waitUntilReady();
    return new JobPipeline(connection, queue, options);
  }

  /** Queues a stored job for whichever worker is free; a job already queued or being worked on is left as it is. */
  async submit(recordId: string): Promise<void> {
    await this.queue.add('job', { id: recordId }, { jobId: queueJobId(recordId) });
  }

  /**
   * Makes sure a job record in progress is queued: submitted again if it never was (its submitter
   * died in between) or if its BullMQ job ended while the record did not (a worker gave up on it).
   */
  async ensure(recordId: string): Promise<void> {
    const existing = await this.queue.getJob(queueJobId(recordId));
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') return;
      await existing.remove();
    }
    await this.submit(recordId);
  }

  /** Starts taking jobs (a worker process). */
  startWorking(work: JobWork): void {
    const { lockMs, concurrency, logger } = this.options;
    this.worker = new Worker(
      QUEUE_NAME,
      async (queued, token) => {
        const outcome = await work.work(String(queued.data.id));
        if (outcome === 'released') {
          // Back in line at once, for a worker that is staying.
          await queued.moveToWait(token);
          throw new WaitingError();
        }
      },
      { connection: this.connection, prefix: PREFIX, concurrency, lockDuration: lockMs, stalledInterval: Math.max(250, Math.floor(lockMs / 2)), maxStalledCount: MAX_TAKEOVERS },
    );
    this.worker.on('error', (error) => logger.warn('job worker error', { error }));
    this.worker.on('failed', (queued, error) => {
      if (error instanceof WaitingError) return;
      const willRetry = queued !== undefined && queued.attemptsMade < (queued.opts.attempts ?? 1);
      logger.warn(willRetry ? 'a job failed at its worker; it will be tried again' : 'a job failed at its worker; reconciliation will queue it again', { job: queued?.data.id, error });
    });
    this.worker.on('lockRenewalFailed', (ids) => {
      for (const id of ids) {
        logger.warn('lost the hold on a job; another worker may take it', { job: id });
        work.relinquish(id.replace(/^job-/, ''));
      }
    });
  }

  /** Stops taking jobs; the promise settles once the jobs being worked on are ended or handed back. */
  async stopWorking(): Promise<void> {
    await this.worker?.close();
  }

  /** Closes the queue: after stopWorking, and once nothing more is submitted. */
  async close(): Promise<void> {
    await this.queue.close();
    this.connection.disconnect();
  }
}
