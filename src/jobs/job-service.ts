import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeFailure } from '../discord/failure-messages.js';
import { audiencesOf, renderFailure, toDisplayRequest } from '../discord/messages.js';
import { messageUrl, type ReplyTarget, type ReplyWriter } from '../discord/replies.js';
import type { Logger } from '../logger.js';
import type { PikaClient } from '../pika/client.js';
import { PikaError } from '../pika/errors.js';
import { buildGenerateBody, type GenerationRequest } from '../pika/request.js';
import type { Admitted } from './admission.js';
import type { PollScheduler } from './scheduler.js';
import type { PolicyRefusal, Requester } from '../moderation/policy.js';
import type { BreakerTicket } from '../pika/circuit-breaker.js';
import { JobQueue } from './job-queue.js';
import type { UsageService } from '../usage/usage-service.js';
import { DeliveryRun, type DeliveryDeps } from './delivery.js';
import { failureBeforeStart, operatorActionFor } from './failures.js';
import { canTryAgain, isEnded, markDeleted, markFailed, markRunning, markStarting, newJob, settlementFor, withNotification, withReplyMessage, type Failure, type Job, type JobOrigin } from './job.js';
import type { HistoryPage, JobStore } from './job-store.js';
import type { JobHooks } from './job-hooks.js';
import { FeedPoll, type PollerDeps } from './poller.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { Locale } from '../i18n/index.js';
import type { JobPipeline, WorkOutcome } from './job-pipeline.js';

export interface JobEvents {
  /** A job's one generate call is about to be sent (once per job that starts; `startedAt` says when it left the queue). */
  started: [job: Job];
  /** A job reached `delivered` or `failed` (and was settled). */
  ended: [job: Job];
}

export interface JobServiceDeps {
  config: { pollIntervalMs: number; taskTimeoutMs: number; progressEditIntervalMs: number; upstreamConcurrency: number | null };
  pika: Pick<PikaClient, 'generate'>;
  /** Turns the request's images into what generate takes (URLs, or base64 after a checked download). */
  resolveImages: (request: GenerationRequest) => Promise<string[]>;
  replies: Pick<ReplyWriter, 'post' | 'notify' | 'withdraw' | 'edit' | 'tokenUsable' | 'tokenRemainingMs'>;
  store: JobStore;
  usage: Pick<UsageService, 'settle' | 'startWaiting'>;
  /** What a queued job passes again when its turn comes: the server's rules as they stand, and the circuit breaker. */
  gate: {
    recheck: (job: Job) => Promise<PolicyRefusal | null>;
    ticket: () => Promise<BreakerTicket | undefined>;
  };
  /**
   * The shared pipeline of a store several processes use (Redis): jobs are handed to it and
   * carried by whichever worker takes them. Without it (SQLite) this process carries its own.
   */
  pipeline?: Pick<JobPipeline, 'submit' | 'ensure'>;
  /**
   * With a pipeline: true for the first claim of a job's one generate call across every process
   * on the store (two workers may both believe they hold a job). Alone, this process never needs it.
   */
  claimGenerate?: (id: string) => Promise<boolean>;
  pollScheduler: PollScheduler;
  deliveryScheduler: PollScheduler;
  poller: Omit<PollerDeps, 'logger' | 'now'>;
  delivery: Omit<DeliveryDeps, 'logger' | 'now'>;
  logger: Logger;
  now: () => number;
}

export interface StartContext {
  locale: string;
  guildLocale: string | null;
  origin?: JobOrigin;
  /** Who asked, as moderation saw it: checked again if the job waits in the queue. */
  requester?: Requester;
}

/** What a Cancel press found: the job taken out of the queue, already started (paid for), or not here. */
export type CancelOutcome = 'cancelled' | 'started' | 'gone';

/** What was done with a job found in progress in the store that no one here was working on. */
export type CarryOn = 'resumed' | 'interrupted' | 'submitted';

/** How long `/pika show` waits out a Discord outage: the user is waiting, and nothing paid is at stake. */
const SHOW_RETRY_MS = 60_000;

/** Pauses between tries of a store write that must not be lost; the last one repeats. */
const STORE_RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * Owns the jobs of this process: starts them (record first, then the one generate call), hands
 * them to polling and delivery, and ends them (stored, then settled exactly once, then shown).
 * It holds the one current version of each job in progress: polling and delivery change it only
 * through `JobHooks`, and a job's writes are stored in the order they were made, each retried
 * until the store takes it. Listeners of `events` (the audit log) hear of each job's end.
 */
export class JobService {
  readonly events = new EventEmitter<JobEvents>();
  /** The current version of each job this process is working on: what reconciliation leaves alone. */
  private readonly live = new Map<string, Job>();
  /** Jobs whose record reached the store at least once (so their end must be stored too). */
  private readonly stored = new Set<string>();
  private readonly writes = new KeyedMutex();
  /** Starts, ends and delivery attempts under way: what shutdown waits for. */
  private readonly underWay = new Set<Promise<void>>();
  private readonly deliveries = new Set<DeliveryRun>();
  /** Workers of the pipeline waiting for the end of a job this process carries. */
  private readonly turns = new Map<string, (outcome: WorkOutcome) => void>();
  /** Jobs another worker took over from this process: nothing more of theirs is written here. */
  private readonly released = new Set<string>();
  private stopping = false;

  private readonly hooks: JobHooks = {
    current: (id) => {
      const job = this.live.get(id);
      if (!job) throw new Error(`job ${id} is not in progress here`);
      return job;
    },
    update: (id, change) => this.update(id, change),
    end: (id, change) => this.end(id, change),
    deliver: (id) => this.deliver(id),
    carries: (id) => this.live.has(id),
  };

  private readonly queue: JobQueue;

  constructor(private readonly deps: JobServiceDeps) {
    this.queue = new JobQueue({
      upstreamConcurrency: deps.config.upstreamConcurrency,
      progressEditIntervalMs: deps.config.progressEditIntervalMs,
      replies: deps.replies,
      current: (id) => {
        const job = this.live.get(id);
        return job?.state === 'queued' ? job : undefined;
      },
      active: () => [...this.live.values()].filter((job) => job.state === 'starting' || job.state === 'running').length + this.queue.launches,
      claim: (job) => deps.usage.startWaiting(job.reservation, job.requester?.roleIds ?? []),
      launch: (id) => void this.track(this.startQueued(id)),
      expire: (id) => void this.track(this.leaveQueue(id, { code: 'queue_expired', billed: false })),
      replyShown: (id, messageId) => void this.track(this.update(id, (job) => withReplyMessage(job, messageId, deps.now()))),
      logger: deps.logger,
      now: deps.now,
    });
  }

  /** Whether a new request must wait in the queue because the provider's slots are all taken. */
  upstreamFull(): boolean {
    return this.queue.upstreamFull();
  }

  /** Jobs waiting in this process's queue for a slot (for metrics). */
  queueLength(): number {
    return this.queue.length;
  }

  /** The jobs this process is carrying, by state (for metrics). */
  countByState(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const job of this.live.values()) counts[job.state] = (counts[job.state] ?? 0) + 1;
    return counts;
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /** The job's current version: this process's own while it is in progress, else the stored one. */
  async find(id: string): Promise<Job | undefined> {
    return this.live.get(id) ?? (await this.deps.store.get(id));
  }

  /** Records that a delivered job's message was deleted by `by`; answers the new version (with its notification id, if one was sent meanwhile). */
  recordDeletion(id: string, by: string): Promise<Job | undefined> {
    return this.annotate(id, (job) => markDeleted(job, by, this.deps.now()));
  }

  /** A page of a user's history in one server (or DMs), newest first. */
  history(scope: string, userId: string, page: number, pageSize: number): Promise<HistoryPage> {
    return this.deps.store.history(scope, userId, page, pageSize);
  }

  /**
   * Changes an ended job's record (a deletion noted, a notification recorded); answers the new
   * version, or undefined when the job no longer exists. Queued with the job's other writes.
   */
  annotate(id: string, change: (job: Job) => Job): Promise<Job | undefined> {
    return this.writes.runExclusive([id], () => this.deps.store.change(id, (job) => (isEnded(job) ? change(job) : undefined)));
  }

  /**
   * Runs an admitted request whose interaction was already deferred. Never throws: every
   * failure ends as a message on the reply.
   */
  start(request: GenerationRequest, reply: ReplyTarget, admitted: Pick<Admitted, 'reservation' | 'ticket' | 'waiting'>, context: StartContext): Promise<void> {
    // A request over its user's limit waits; so does any while the provider's slots are taken, or
    // while a pass may be giving the free one to a job that waited for it.
    const queued = admitted.waiting || this.queue.upstreamFull() || this.queue.busy;
    const job = newJob({
      id: admitted.reservation.id,
      request,
      locale: context.locale,
      guildLocale: context.guildLocale,
      ...(context.origin ? { origin: context.origin } : {}),
      ...(context.requester ? { requester: context.requester } : {}),
      reply,
      reservation: { id: admitted.reservation.id, guildId: admitted.reservation.guildId, userId: admitted.reservation.userId },
      now: this.deps.now(),
      timeoutMs: this.deps.config.taskTimeoutMs,
      // Handed to the pipeline, it waits for a worker: stored as nothing sent yet.
      queued: queued || this.deps.pipeline !== undefined,
    });
    if (this.deps.pipeline) {
      // A worker takes it from the pipeline; its place in the breaker is taken again there.
      admitted.ticket.release();
      return this.track(this.handOver(job, this.deps.pipeline));
    }
    this.live.set(job.id, job);
    if (!queued) return this.track(this.launch(job.id, admitted.ticket));
    // Its place in the circuit breaker is taken again when its turn comes.
    admitted.ticket.release();
    return this.track(this.enqueue(job));
  }

  /**
   * Stores a new job as `queued` (nothing sent yet), then gives it to the pipeline. A job stored
   * but not submitted (the pipeline did not answer) is submitted by reconciliation later.
   */
  private async handOver(job: Job, pipeline: NonNullable<JobServiceDeps['pipeline']>): Promise<void> {
    this.live.set(job.id, job);
    try {
      await this.write(job, { retry: false });
    } catch (error) {
      this.deps.logger.warn('a new job could not be stored', { job: job.id, error });
      return this.end(job.id, (current) => markFailed(current, failureBeforeStart(error), this.deps.now()));
    }
    // A worker of this very process may take it as soon as it is submitted.
    this.live.delete(job.id);
    this.stored.delete(job.id);
    try {
      await pipeline.submit(job.id);
      this.deps.logger.info('job submitted', { job: job.id, user: job.reservation.userId });
    } catch (error) {
      this.deps.logger.error('could not submit a stored job; reconciliation will', { job: job.id, error });
    }
  }

  /**
   * A worker's turn with a job of the pipeline: carries it on from the state its record is in
   * (as after a restart: a start that may have sent generate is ended, never sent again), and
   * answers once it has ended, or once this process lets it go (shutting down, hold lost).
   */
  async work(id: string): Promise<WorkOutcome> {
    if (this.stopping) return 'released';
    const job = this.live.get(id) ?? (await this.deps.store.get(id));
    if (!job || isEnded(job)) return 'ended';
    // Given a job again that this process had lost its hold on: the earlier turn is over.
    this.finishTurn(id, 'released');
    this.released.delete(id);
    const turn = new Promise<WorkOutcome>((resolve) => this.turns.set(id, resolve));
    if (!this.live.has(id)) {
      this.deps.logger.info('took a job from the pipeline', { job: id, state: job.state });
      void this.carryHere(job).catch((error: unknown) => {
        this.deps.logger.error('could not carry on a job from the pipeline; handing it back', { job: id, error });
        this.finishTurn(id, 'released');
      });
    }
    return turn;
  }

  /** The hold on a job was lost to another worker: this process stops working on it and writes nothing more. */
  relinquish(id: string): void {
    this.released.add(id);
    this.live.delete(id);
    this.stored.delete(id);
    void this.queue.remove(id);
    this.finishTurn(id, 'released');
  }

  private finishTurn(id: string, outcome: WorkOutcome): void {
    this.turns.get(id)?.(outcome);
    this.turns.delete(id);
  }

  /**
   * Carries on a job found in progress in the store that nobody here is working on (after a
   * restart, or by reconciliation). With a pipeline it is only made sure to be queued: whichever
   * worker holds it decides, so a live worker's job is never touched.
   */
  async carryOn(job: Job): Promise<CarryOn> {
    if (this.deps.pipeline) {
      await this.deps.pipeline.ensure(job.id);
      return 'submitted';
    }
    return this.carryHere(job);
  }

  private async carryHere(job: Job): Promise<CarryOn> {
    if (job.state === 'starting') {
      await this.interrupted(job);
      return 'interrupted';
    }
    this.resume(job);
    return 'resumed';
  }

  /** Stores a job that waits (nothing may wait that a restart would forget), then puts it in line. */
  private async enqueue(job: Job): Promise<void> {
    try {
      await this.write(job, { retry: false });
    } catch (error) {
      this.deps.logger.warn('a queued job could not be stored', { job: job.id, error });
      return this.end(job.id, (current) => markFailed(current, failureBeforeStart(error), this.deps.now()));
    }
    this.deps.logger.info('job queued', { job: job.id, user: job.reservation.userId });
    this.queue.add(job);
  }

  /**
   * A queued job's turn: the server's rules and the breaker are asked again (a rule made meanwhile
   * stops it with a refund), then it starts as any other job does.
   */
  private async startQueued(id: string): Promise<void> {
    const { now } = this.deps;
    let ticket: BreakerTicket | undefined;
    try {
      await this.queue.closeView(id);
      const job = this.live.get(id)!;
      const refusal = await this.deps.gate.recheck(job);
      if (!refusal) ticket = await this.deps.gate.ticket();
      if (!ticket) {
        const failure: Failure = refusal ? { code: 'policy_refused', billed: false, policy: refusal } : { code: 'service_unavailable', billed: false };
        // Its slot is free before its end lets the next in line start.
        this.queue.launched(id);
        return await this.end(id, (current) => markFailed(current, failure, now()));
      }
      this.live.set(id, markStarting(job, now(), this.deps.config.taskTimeoutMs));
    } catch (error) {
      this.deps.logger.warn('a queued job could not be started', { job: id, error });
      return await this.end(id, (current) => markFailed(current, failureBeforeStart(error), now()));
    } finally {
      this.queue.launched(id);
    }
    await this.launch(id, ticket);
  }

  /** Takes a job out of the queue and ends it as `failure` says (nothing was sent, nothing is charged). */
  private async leaveQueue(id: string, failure: Failure): Promise<void> {
    if (!(await this.queue.remove(id))) return;
    await this.end(id, (current) => markFailed(current, failure, this.deps.now()));
  }

  /**
   * ✖ Cancel: a job still waiting leaves the queue with its allowance given back. Once its start
   * is under way it is (being) paid for and is no longer cancelled.
   */
  cancel(id: string, by: string): CancelOutcome {
    const job = this.live.get(id);
    if (!job) return 'gone';
    // Still in line (even while its turn is being checked): cancellable. Taken from the line, it is starting.
    if (job.state !== 'queued' || !this.queue.has(id)) return 'started';
    void this.track(this.leaveQueue(id, { code: 'cancelled', billed: false, by }));
    return 'cancelled';
  }

  /** The one generate call of a job in `starting`: its record stored first, then sent, never twice. */
  private async launch(id: string, ticket: BreakerTicket): Promise<void> {
    const { config, pika, now } = this.deps;
    const { request, reply } = this.live.get(id)!;
    const log = this.deps.logger.child({ job: id, kind: request.kind, user: reply.requesterId });
    const poll = this.pollerOf(id);
    poll.showProgress({ status: 'starting', progress: 0, posterUrl: undefined });

    let body;
    let mine: boolean;
    try {
      body = buildGenerateBody(request, await this.deps.resolveImages(request));
      // Not retried: with no record stored, nothing may be sent, and the user is told at once.
      await this.write(this.live.get(id)!, { retry: false });
      // Whatever a pipeline's holds say, one process alone may ever send this job's generate.
      mine = (await this.deps.claimGenerate?.(id)) ?? true;
    } catch (error) {
      log.warn('request could not be prepared', { error });
      ticket.release();
      await poll.stopProgress();
      return this.end(id, (current) => markFailed(current, failureBeforeStart(error), now()));
    }

    if (!mine) {
      log.warn('another process is starting this job; leaving it to them');
      ticket.release();
      await poll.stopProgress();
      return this.relinquish(id);
    }

    this.announce('started', this.live.get(id)!);
    let pikaTaskId: string;
    try {
      pikaTaskId = await pika.generate(body);
      ticket.succeeded();
    } catch (error) {
      ticket.failed(error instanceof PikaError && error.isUpstreamFault);
      log.error(`generate failed${operatorActionFor(error)}`, { error });
      await poll.stopProgress();
      return this.end(id, (current) => markFailed(current, failureBeforeStart(error), now()));
    }
    log.info('task started', { pikaTaskId });
    if (this.released.has(id)) {
      // Its new holder found it `starting` and ended it as interrupted (billed): the video cannot reach anyone now.
      log.error('a task started after another worker took the job over; its video is lost', { pikaTaskId });
      return;
    }
    // The video is paid for now: its task id must reach the store, or a restart would call it lost.
    await this.update(id, (current) => markRunning(current, pikaTaskId, now()));
    this.deps.pollScheduler.add(poll, config.pollIntervalMs);
  }

  private pollerOf(id: string): FeedPoll {
    return new FeedPoll(id, { ...this.deps.poller, logger: this.deps.logger, now: this.deps.now }, this.hooks);
  }

  /** Carries on a job found in the store (after a restart): back in the queue, polling or delivering it. */
  private resume(job: Job): void {
    this.adopt(job);
    if (job.state === 'queued') this.queue.add(job);
    else if (job.state === 'running') this.deps.pollScheduler.add(this.pollerOf(job.id), 0);
    else if (job.state === 'delivering') this.deliver(job.id);
    else throw new Error(`job ${job.id} in state ${job.state} cannot be resumed`);
  }

  /** Ends a job found `starting` in the store: generate may have been sent, so it never is again. */
  private async interrupted(job: Job): Promise<void> {
    this.adopt(job);
    this.deps.logger.warn('a start was interrupted; not re-sending generate', { job: job.id });
    await this.track(this.end(job.id, (current) => markFailed(current, { code: 'interrupted_start', billed: true }, this.deps.now())));
  }

  private adopt(job: Job): void {
    this.live.set(job.id, job);
    this.stored.add(job.id);
  }

  private deliver(id: string): void {
    this.schedule(new DeliveryRun(id, { ...this.deps.delivery, logger: this.deps.logger, now: this.deps.now }, this.hooks));
  }

  /**
   * Posts a delivered job's video again, on a new reply (`/pika show`), with the buttons of the
   * job itself: nothing is generated, charged or stored. The file is fetched again (or linked
   * when the provider no longer serves it); a short Discord outage is waited out.
   */
  show(job: Job, reply: ReplyTarget, context: Pick<StartContext, 'locale' | 'guildLocale'>): void {
    const { now } = this.deps;
    let copy: Job = { ...job, ...context, reply, state: 'delivering', deliveringSince: now() };
    const hooks: JobHooks = {
      current: () => copy,
      update: async (_id, change) => {
        copy = change(copy);
      },
      end: async (_id, change) => {
        copy = change(copy);
        // Nothing new was paid for: the failure offers no Try again of the original.
        if (copy.state === 'failed') await this.showFailure(copy, reply, { tryAgain: false });
      },
      deliver: () => {},
      carries: () => true,
    };
    const config = { ...this.deps.delivery.config, deliveryRetryMs: SHOW_RETRY_MS, downloadRetryMs: 0 };
    this.schedule(new DeliveryRun(job.id, { ...this.deps.delivery, config, logger: this.deps.logger, now }, hooks));
  }

  private schedule(run: DeliveryRun): void {
    this.deliveries.add(run);
    this.deps.deliveryScheduler.add(
      {
        poll: async () => {
          // Tracked, so shutdown lets an upload under way finish rather than cut it off.
          const next = await this.during(run.poll());
          if (next === 'done') this.deliveries.delete(run);
          return next;
        },
      },
      0,
    );
  }

  /** Applies `change` to the job's current version and stores it. A job that has ended changes no more. */
  private async update(id: string, change: (job: Job) => Job): Promise<void> {
    const job = this.live.get(id);
    if (!job || isEnded(job)) return;
    const next = change(job);
    this.live.set(id, next);
    // A finished task frees its slot at the provider while its video is still being posted.
    if (job.state === 'running' && next.state !== 'running') void this.queue.pump();
    await this.write(next);
  }

  /**
   * Stores the job's newest version. Writes of one job are queued, so an older version can never
   * land after a newer one; with `retry` a failing store is tried again until it answers (these
   * writes record a paid task's progress; shutdown's deadline ends the wait).
   */
  private write(job: Job, { retry = true } = {}): Promise<void> {
    return this.writes.runExclusive([job.id], async () => {
      for (let attempt = 0; ; attempt++) {
        if (this.released.has(job.id)) return;
        const newest = this.live.get(job.id) ?? job;
        try {
          await this.deps.store.save(newest, { first: !this.stored.has(job.id) });
          this.stored.add(job.id);
          return;
        } catch (error) {
          if (!retry) throw error;
          const delay = STORE_RETRY_DELAYS_MS[Math.min(attempt, STORE_RETRY_DELAYS_MS.length - 1)]!;
          this.deps.logger.error('could not store the job; retrying', { job: job.id, state: newest.state, error, delayMs: delay });
          await sleep(delay);
        }
      }
    });
  }

  /**
   * Ends a job: its end stored first (if it was ever stored), then its reservation settled
   * (before the user reads a failure, so an immediate retry is not refused), then a failure
   * shown. The job stays live until settled, so reconciliation never races it.
   */
  private async end(id: string, change: (job: Job) => Job): Promise<void> {
    const before = this.live.get(id);
    if (!before || isEnded(before)) return;
    const job = change(before);
    this.live.set(id, job);
    const log = this.deps.logger.child({ job: id });
    if (this.stored.has(id)) await this.write(job);
    else if (job.failure?.code !== 'store_unavailable') {
      // Ended before its record was first stored (a request that could not be prepared): kept if
      // the store takes it, so that its Try again and Details work, but never retried.
      await this.write(job, { retry: false }).catch((error: unknown) => log.warn('could not keep the record of a job that ended early', { error }));
    }
    const outcome = settlementFor(job);
    try {
      await this.deps.usage.settle(job.reservation, outcome);
      log.info('job settled', { outcome, state: job.state, ...(job.failure ? { failure: job.failure.code } : {}) });
    } catch (error) {
      // Left for reconciliation, which settles reservations whose job has ended.
      log.error('could not settle the job', { error, outcome });
    }
    this.live.delete(id);
    this.stored.delete(id);
    if (job.state === 'delivered' && job.startedAt !== undefined && job.result) this.queue.recordDuration(job.result.finishedAt - job.startedAt);
    // Its end may free the user's slot (settled above) or the provider's: the next in line can start.
    void this.queue.pump();
    try {
      await this.queue.closeView(id);
      // The ended job no longer holds the interaction token; the version before its end does.
      const shownOn = job.state === 'failed' ? await this.showFailure(job, before.reply) : job.outcome;
      // Whoever cancels is looking at it.
      if (shownOn?.where === 'reply' && job.failure?.code !== 'cancelled') await this.notify(job, before.reply, shownOn.messageUrl);
      this.announce('ended', job);
    } finally {
      this.finishTurn(id, 'ended');
    }
  }

  /** Tells the listeners (metrics, say); one that throws must not stop a paid job on its way. */
  private announce(event: keyof JobEvents, job: Job): void {
    try {
      this.events.emit(event, job);
    } catch (error) {
      this.deps.logger.error('a job event listener failed', { event, job: job.id, error });
    }
  }

  private async showFailure(job: Job, reply: ReplyTarget, { tryAgain = canTryAgain(job) } = {}): Promise<{ where: 'reply' | 'channel'; messageUrl: string } | undefined> {
    const message = {
      render: (locale: Locale) => renderFailure(toDisplayRequest(job.request), describeFailure(job.failure!, locale), locale, { jobId: job.id, tryAgain }),
      audiences: audiencesOf(job),
    };
    for (const target of [reply, { ...reply, gone: true }]) {
      try {
        const posted = await this.deps.replies.post(target, message);
        return { where: posted.where, messageUrl: messageUrl(reply.guildId, posted.message) };
      } catch (error) {
        this.deps.logger.error(target.gone ? 'could not show the failure in the channel either' : 'could not show the failure on the reply', { job: job.id, error });
      }
    }
    return undefined;
  }

  /**
   * An edit notifies no one, so the requester of a job that ended on its reply is told by a new
   * message that mentions only them and links to the reply. (A message posted in the channel
   * instead already mentions them.)
   */
  private async notify(job: Job, reply: ReplyTarget, url: string): Promise<void> {
    try {
      const message = await this.deps.replies.notify(reply, { outcome: job.state === 'delivered' ? 'ready' : 'failed', messageUrl: url }, audiencesOf(job).requester);
      if (!message) return;
      const noted = await this.annotate(job.id, (current) => withNotification(current, message.id, this.deps.now()));
      // Deleted while the notification was on its way: it would point at nothing.
      if (noted?.deleted) await this.deps.replies.withdraw(reply, message.id);
    } catch (error) {
      this.deps.logger.warn('could not notify the requester', { job: job.id, error });
    }
  }

  /** Waits for the work under way; deliveries waiting for a retry stay `delivering`, to resume on the next start. */
  async stop(): Promise<void> {
    // Queued jobs stay queued in the store, and are queued again on the next start.
    this.stopping = true;
    this.queue.stop();
    await Promise.allSettled([...this.underWay]);
    await Promise.allSettled([...this.deliveries].map((run) => run.abandon()));
  }

  /**
   * Gives every job this process carries for the pipeline back to it, for a worker that stays
   * (shutting down: after stop, or once the drain's deadline has passed, whatever is still under way).
   */
  handBack(): void {
    for (const id of [...this.turns.keys()]) this.finishTurn(id, 'released');
  }

  private track(work: Promise<void>): Promise<void> {
    return this.during(work.catch((error: unknown) => this.deps.logger.error('a job failed unexpectedly', { error })));
  }

  /** Work that shutdown waits for. */
  private during<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => {},
      () => {},
    );
    this.underWay.add(settled);
    void settled.finally(() => this.underWay.delete(settled));
    return work;
  }
}
