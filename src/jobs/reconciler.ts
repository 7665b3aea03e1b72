import type { Logger } from '../logger.js';
import type { UsageService } from '../usage/usage-service.js';
import { isEnded, settlementFor, type Job } from './job.js';
import type { JobService } from './job-service.js';
import type { JobStore } from './job-store.js';

export interface ReconcilerDeps {
  usage: Pick<UsageService, 'openReservations' | 'settle'>;
  store: Pick<JobStore, 'get'>;
  jobs: Pick<JobService, 'isLive' | 'carryOn'>;
  logger: Logger;
  now: () => number;
}

export interface Reconciliation {
  resumed: number;
  interrupted: number;
  /** Jobs in progress made sure to be in the shared pipeline (Redis), for whichever worker holds them. */
  submitted: number;
  /** Reservations settled for jobs that had ended (a settlement that failed or was cut off). */
  settled: number;
  /** Reservations refunded because no job was ever stored for them. */
  refunded: number;
}

/**
 * Brings usage and jobs back in line. Every job in progress holds an open reservation with its
 * own id, so the open reservations (records of their own, listed by prefix) are exactly what
 * to look at: a job this process is not working on is carried on (see JobService.carryOn: resumed,
 * ended if its start was cut off, or made sure to be in the shared pipeline);
 * a job that ended without its settlement being stored is settled now; a reservation whose job
 * was never stored (nothing was sent) is refunded. Run at start-up and then periodically.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<Reconciliation> | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  /**
   * One pass. `graceMs` spares reservations younger than that, which may belong to a command
   * whose job is about to be created; at start-up nothing is that young.
   */
  run(graceMs: number): Promise<Reconciliation> {
    this.running ??= this.pass(graceMs).finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(graceMs: number): Promise<Reconciliation> {
    const { usage, store, jobs, now } = this.deps;
    const summary: Reconciliation = { resumed: 0, interrupted: 0, submitted: 0, settled: 0, refunded: 0 };
    const toCarryOn: Job[] = [];
    for (const reservation of await usage.openReservations()) {
      if (jobs.isLive(reservation.id)) continue;
      const job = await store.get(reservation.id);
      if (!job) {
        // Only a command whose job is about to be stored is this young: not refunded yet.
        if (now() - reservation.startedAt < graceMs) continue;
        if (await usage.settle(reservation, 'refunded')) summary.refunded++;
      } else if (isEnded(job)) {
        if (await usage.settle(reservation, settlementFor(job))) summary.settled++;
      } else {
        toCarryOn.push(job);
      }
    }
    // Resumed only now, so nothing they settle can race the pass; oldest first, so the queue keeps its order.
    // Jobs at the provider first, so the queue counts their slots before it starts anyone.
    // Cut-off starts are ended first, so their slots are free before anyone queued is started.
    const rank = (job: Job) => (job.state === 'starting' ? 0 : job.state === 'queued' ? 2 : 1);
    for (const job of toCarryOn.sort((a, b) => rank(a) - rank(b) || a.createdAt - b.createdAt)) summary[await jobs.carryOn(job)]++;
    return summary;
  }

  /** Runs a pass every `intervalMs` while the bot runs (a settlement that failed is retried so). */
  startPeriodic(intervalMs: number, graceMs: number): void {
    this.timer = setInterval(() => {
      this.run(graceMs).then(
        (summary) => {
          // Submitting is routine with a pipeline (most are already queued); only repairs are worth a warning.
          if (summary.refunded + summary.settled + summary.resumed + summary.interrupted > 0) this.deps.logger.warn('reconciled usage and jobs', { ...summary });
        },
        (error: unknown) => this.deps.logger.error('reconciliation failed; it will run again', { error }),
      );
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }
}
