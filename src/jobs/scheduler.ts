import { processClock, type Clock } from '../clock.js';

export interface PollJob {
  /** Polls once; answers how long to wait before the next poll, or `done`. */
  poll(): Promise<number | 'done'>;
}

export interface PollSchedulerOptions {
  /** Most polls in flight at once, toward the upstream API. */
  concurrency: number;
  now?: Clock;
  onError: (error: unknown) => void;
}

interface Entry {
  job: PollJob;
  dueAt: number;
}

/**
 * One polling loop for every in-flight task: a single timer armed for the earliest due poll,
 * and at most `concurrency` polls running at once. A slow upstream delays polls; it never
 * piles them up.
 */
export class PollScheduler {
  private readonly waiting: Entry[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;
  private stopped = false;
  private readonly now: Clock;

  constructor(private readonly options: PollSchedulerOptions) {
    this.now = options.now ?? processClock;
  }

  /** Schedules `job` to poll after `delayMs`. */
  add(job: PollJob, delayMs = 0): void {
    if (this.stopped) return;
    this.waiting.push({ job, dueAt: this.now() + delayMs });
    this.pump();
  }

  /** Jobs waiting or polling. */
  get size(): number {
    return this.waiting.length + this.running;
  }

  /** Stops starting polls; polls already running finish on their own. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.length = 0;
  }

  private pump(): void {
    if (this.stopped) return;
    const now = this.now();
    while (this.running < this.options.concurrency) {
      const index = this.indexOfEarliest();
      if (index === -1 || this.waiting[index]!.dueAt > now) break;
      const [entry] = this.waiting.splice(index, 1);
      this.run(entry!.job);
    }
    this.armTimer();
  }

  private run(job: PollJob): void {
    this.running++;
    // Wrapped so a poll that throws synchronously still frees its slot.
    Promise.resolve()
      .then(() => job.poll())
      .then(
        (next) => {
          if (next !== 'done' && !this.stopped) this.waiting.push({ job, dueAt: this.now() + next });
        },
        (error: unknown) => this.options.onError(error),
      )
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  private armTimer(): void {
    if (this.running >= this.options.concurrency) return; // a finishing poll pumps again
    const index = this.indexOfEarliest();
    if (index === -1) return;
    const dueAt = this.waiting[index]!.dueAt;
    if (this.timer && this.timerDueAt <= dueAt) return;
    clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDueAt = Infinity;
      this.pump();
    }, Math.max(0, dueAt - this.now()));
  }

  private indexOfEarliest(): number {
    let best = -1;
    for (let i = 0; i < this.waiting.length; i++) {
      if (best === -1 || this.waiting[i]!.dueAt < this.waiting[best]!.dueAt) best = i;
    }
    return best;
  }
}
