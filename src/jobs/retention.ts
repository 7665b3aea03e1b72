import type { Logger } from '../logger.js';
import type { JobStore } from './job-store.js';

const SWEEP_INTERVAL_MS = 3600_000;

/** Removes ended jobs past `JOB_RETENTION_DAYS`: once soon after start-up, then hourly. */
export class HistoryRetention {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<JobStore, 'removeEndedBefore'>,
    private readonly retentionDays: number,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  start(): void {
    const sweep = () => {
      this.store.removeEndedBefore(this.now(), this.retentionDays).then(
        (removed) => {
          if (removed > 0) this.logger.info('removed old job history', { removed, retentionDays: this.retentionDays });
        },
        (error: unknown) => this.logger.warn('could not remove old job history; will try again', { error }),
      );
    };
    setImmediate(sweep).unref();
    this.timer = setInterval(sweep, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
