import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { RedisBus } from '../redis-bus.js';
import type { CancelOutcome, JobService } from './job-service.js';

const REQUESTS = 'pika:jobs:cancel';
/** How long a Cancel press waits for the process carrying the job to answer: its first response is due within Discord's 3 s. */
const ANSWER_TIMEOUT_MS = 1500;

interface CancelRequest {
  id: string;
  by: string;
  replyTo: string;
  nonce: string;
}

/**
 * ✖ Cancel wherever the job is: the button reaches a gateway process, but on a shared store the
 * job waits at whichever worker took it. A job this process does not carry is asked for over the
 * store's pub/sub; the process that carries it cancels it (its end rewrites the reply) and says
 * what it found. No answer in time means no process carries it any more.
 */
export class CancelRelay {
  private readonly replies = `pika:jobs:cancelled:${randomUUID()}`;
  private readonly pending = new Map<string, (outcome: CancelOutcome) => void>();

  constructor(
    private readonly jobs: Pick<JobService, 'cancel'>,
    private readonly bus: Pick<RedisBus, 'publish' | 'subscribe'> | undefined,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (!this.bus) return;
    await this.bus.subscribe(REQUESTS, (message) => this.answer(message));
    await this.bus.subscribe(this.replies, (message) => {
      const { nonce, outcome } = JSON.parse(message) as { nonce: string; outcome: CancelOutcome };
      this.pending.get(nonce)?.(outcome);
    });
  }

  async cancel(id: string, by: string): Promise<CancelOutcome> {
    const here = this.jobs.cancel(id, by);
    if (here !== 'gone' || !this.bus) return here;
    const nonce = randomUUID();
    const answered = new Promise<CancelOutcome>((resolve) => {
      const timer = setTimeout(() => resolve('gone'), ANSWER_TIMEOUT_MS);
      this.pending.set(nonce, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
    });
    try {
      const request: CancelRequest = { id, by, replyTo: this.replies, nonce };
      await this.bus.publish(REQUESTS, JSON.stringify(request));
      return await answered;
    } finally {
      this.pending.delete(nonce);
    }
  }

  private answer(message: string): void {
    const request = JSON.parse(message) as CancelRequest;
    // This process looked before it asked.
    if (request.replyTo === this.replies) return;
    const outcome = this.jobs.cancel(request.id, request.by);
    if (outcome === 'gone') return;
    this.bus!.publish(request.replyTo, JSON.stringify({ nonce: request.nonce, outcome })).catch((error: unknown) =>
      this.logger.warn('could not answer a Cancel press made through another process', { job: request.id, error }),
    );
  }
}
