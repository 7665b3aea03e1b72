import { audiencesOf, renderQueued, toDisplayRequest } from '../discord/messages.js';
import type { ReplyWriter } from '../discord/replies.js';
import type { Logger } from '../logger.js';
import { FairQueue } from './fair-queue.js';
import type { Job } from './job.js';
import { ProgressEditor } from './progress-editor.js';

export interface JobQueueDeps {
  /** Tasks at the provider at once across all users; null for no limit. */
  upstreamConcurrency: number | null;
  progressEditIntervalMs: number;
  replies: Pick<ReplyWriter, 'edit' | 'tokenUsable' | 'tokenRemainingMs'>;
  /** The queued job's current version, if it still is one. */
  current: (id: string) => Job | undefined;
  /** Jobs at the provider now (starting or running), this queue's launches included. */
  active: () => number;
  /** Whether the user's own concurrent-video limit lets this job start now (counted as started if so). */
  claim: (job: Job) => Promise<boolean>;
  /** Starts a job whose turn came (its slot is already counted in `active`). */
  launch: (id: string) => void;
  /** Ends a queued job that can no longer be answered (its token is about to expire). */
  expire: (id: string) => void;
  /** The queued job's reply was shown, as `messageId`: kept with the job, for the channel to answer to once its token has lapsed. */
  replyShown: (id: string, messageId: string) => void;
  logger: Logger;
  now: () => number;
  /** How often the queue looks again (default 5 s). */
  tickMs?: number;
}

/** How often the queue looks again: for room a moderator made, and for tokens about to expire. */
const TICK_MS = 5000;
/**
 * A job that can answer only through its interaction is not left queued once its token has less
 * than this to live: it would have no way to show its video.
 */
const TOKEN_MARGIN_MS = 5 * 60_000;
/** Until videos have been timed, a video is assumed to take this long. */
const DEFAULT_DURATION_MS = 60_000;
const DURATIONS_KEPT = 20;

/**
 * The jobs waiting for a slot (over their user's concurrent-video limit, or over the provider's
 * `PIKA_MAX_CONCURRENT`), started in fair order as slots free up. Each waiting reply shows its
 * place and an estimated start (from how long recent videos took), edited as the line moves
 * within Discord's edit limits, with ✖ Cancel. The jobs themselves are durable records: after a
 * restart they are queued again in the order they were asked for.
 */
export class JobQueue {
  private readonly line = new FairQueue();
  private readonly views = new Map<string, ProgressEditor>();
  private readonly durations: number[] = [];
  /** Jobs taken from the line whose start is under way: they hold an upstream slot already. */
  private readonly launching = new Set<string>();
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | undefined;
  /** Shutting down: nothing new is started (queued jobs stay stored for the next start). */
  private stopped = false;

  constructor(private readonly deps: JobQueueDeps) {}

  get launches(): number {
    return this.launching.size;
  }

  /** Jobs waiting in line (not those whose start is under way). */
  get length(): number {
    return this.line.size;
  }

  /** Whether a new request must wait: the provider's slots are all taken. */
  upstreamFull(): boolean {
    const { upstreamConcurrency } = this.deps;
    return upstreamConcurrency !== null && this.deps.active() >= upstreamConcurrency;
  }

  has(id: string): boolean {
    return this.line.has(id);
  }

  add(job: Job): void {
    this.line.add({ id: job.id, userId: job.reservation.userId, at: job.createdAt });
    if (!this.stopped) this.timer ??= setInterval(() => this.tick(), this.deps.tickMs ?? TICK_MS).unref();
    void this.pump();
  }

  /** Takes a job out without starting it (cancelled, expired); answers whether it was waiting. */
  async remove(id: string): Promise<boolean> {
    const removed = this.line.remove(id);
    await this.closeView(id);
    if (removed) this.refresh();
    return removed;
  }

  /** The start of a launched job is over (started or failed): its slot is counted by its state from now on. */
  launched(id: string): void {
    this.launching.delete(id);
  }

  /** A delivered video's time at the provider, for the estimates. */
  recordDuration(ms: number): void {
    this.durations.push(ms);
    if (this.durations.length > DURATIONS_KEPT) this.durations.shift();
  }

  /** Closes the view of a job whose turn came: its progress takes over the reply. */
  closeView(id: string): Promise<void> {
    const view = this.views.get(id);
    this.views.delete(id);
    return view?.close() ?? Promise.resolve();
  }

  /**
   * Starts waiting jobs while the provider has slots, in fair order, skipping users whose own
   * limit is still full; then shows everyone still waiting their new place. One pass at a time.
   */
  /** A pass is under way: a new request must not take a slot it may be about to give a waiting job. */
  get busy(): boolean {
    return this.pumping !== undefined;
  }

  pump(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.pumping) {
      // The pass under way goes round once more; its end is this call's end.
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = this.pass().finally(() => {
      this.pumping = undefined;
    });
    return this.pumping;
  }

  private async pass(): Promise<void> {
    do {
      this.pumpAgain = false;
      const heldBack = new Set<string>();
      for (let next = this.line.next(); next && !this.upstreamFull(); next = this.line.next((user) => !heldBack.has(user))) {
        const job = this.deps.current(next.id);
        if (!job) {
          this.line.remove(next.id);
          continue;
        }
        if (this.cannotAnswerInTime(job)) {
          // Started now, its video could reach no one (after a restart, its token may be long gone).
          this.deps.expire(next.id);
          this.line.remove(next.id);
          continue;
        }
        // Counted before the claim is awaited, so no other start can take the slot meanwhile.
        this.launching.add(next.id);
        let free = false;
        try {
          free = await this.deps.claim(job);
        } catch (error) {
          this.deps.logger.warn('could not check whether a queued job may start; trying again soon', { job: next.id, error });
        }
        if (this.stopped || !free || !this.line.has(next.id)) {
          this.launching.delete(next.id);
          heldBack.add(next.userId);
          continue;
        }
        this.line.take(next.id);
        this.deps.launch(next.id);
      }
    } while (this.pumpAgain);
    this.refresh();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const id of [...this.views.keys()]) void this.closeView(id);
  }

  /** Only the interaction can answer it, and its token would not last through a video. */
  private cannotAnswerInTime(job: Job): boolean {
    return job.reply.channelFallback === false && this.deps.replies.tokenRemainingMs(job.reply) < TOKEN_MARGIN_MS;
  }

  private tick(): void {
    for (const { id } of this.line.order()) {
      const job = this.deps.current(id);
      if (job && this.cannotAnswerInTime(job)) {
        this.deps.logger.warn('a queued job can no longer be answered in time; ending it', { job: id });
        this.deps.expire(id);
      }
    }
    if (this.line.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    void this.pump();
  }

  /** Shows every waiting job its place and estimated start (edits are throttled per reply). */
  private refresh(): void {
    const now = this.deps.now();
    const average = this.durations.length > 0 ? this.durations.reduce((a, b) => a + b, 0) / this.durations.length : DEFAULT_DURATION_MS;
    const { upstreamConcurrency } = this.deps;
    const aheadOfUser = new Map<string, number>();
    this.line.order().forEach((entry, index) => {
      const job = this.deps.current(entry.id);
      if (!job) return;
      const ownPlace = (aheadOfUser.get(entry.userId) ?? 0) + 1;
      aheadOfUser.set(entry.userId, ownPlace);
      // With a provider limit, everyone ahead shares its slots; without one, only the user's own videos hold theirs back.
      const rounds = upstreamConcurrency === null ? ownPlace : Math.ceil((index + 1) / upstreamConcurrency);
      const place = { position: index + 1, estimatedStartAt: now + rounds * average };
      this.viewOf(job).show(`${place.position}|${Math.round(place.estimatedStartAt / 60_000)}`, () =>
        renderQueued(toDisplayRequest(job.request), place, audiencesOf(job).requester, job.id),
      );
    });
  }

  private viewOf(job: Job): ProgressEditor {
    let view = this.views.get(job.id);
    if (!view) {
      view = new ProgressEditor({
        send: async (body) => {
          const current = this.deps.current(job.id);
          if (!current || !this.deps.replies.tokenUsable(current.reply)) return;
          const message = await this.deps.replies.edit(current.reply, body);
          if (!current.reply.messageId && message?.id) this.deps.replyShown(job.id, message.id);
        },
        intervalMs: this.deps.progressEditIntervalMs,
        onError: (error) => this.deps.logger.warn('could not show a queued job its place', { job: job.id, error }),
        now: this.deps.now,
      });
      this.views.set(job.id, view);
    }
    return view;
  }
}
