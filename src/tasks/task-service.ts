import { randomUUID } from 'node:crypto';
import { DiscordAPIError } from 'discord.js';
import type { Config } from '../config.js';
import { downloadBounded, transferTimeoutMs } from '../download.js';
import {
  renderDelivery,
  renderFailure,
  renderProgress,
  toDisplayRequest,
  videoFileName,
  type DisplayRequest,
  type FinishedVideo,
  type MessageBody,
} from '../discord/messages.js';
import { messageUrl, type PostedMessage, type ReplyTarget, type ReplyWriter } from '../discord/replies.js';
import type { AuditLog } from '../moderation/audit-log.js';
import type { Logger } from '../logger.js';
import type { PikaClient } from '../pika/client.js';
import { PikaError } from '../pika/errors.js';
import { resolveImageRefs } from '../pika/images.js';
import { buildGenerateBody, type GenerationRequest } from '../pika/request.js';
import type { PikaVideo } from '../pika/types.js';
import type { Settlement } from '../usage/limits.js';
import type { Admitted } from './admission.js';
import type { UsageService } from '../usage/usage-service.js';
import { reasonFor, taskErrorReason, timeoutReason } from './failure-reasons.js';
import { ProgressEditor } from './progress-editor.js';
import type { PollScheduler } from './scheduler.js';
import type { TaskRecord, TaskStore } from './task-store.js';

export interface TaskServiceDeps {
  config: Pick<
    Config,
    'pollIntervalMs' | 'taskTimeoutMs' | 'progressEditIntervalMs' | 'maxVideoBytes' | 'imageTransport' | 'maxImageBytes'
  >;
  pika: Pick<PikaClient, 'generate' | 'feed'>;
  replies: ReplyWriter;
  store: TaskStore;
  usage: Pick<UsageService, 'settle' | 'openReservations' | 'repair'>;
  scheduler: PollScheduler;
  logger: Logger;
  audit?: Pick<AuditLog, 'generation'>;
  now?: () => number;
  newId?: () => string;
}

const MAX_FEED_BACKOFF_MS = 60_000;

/** What the operator should do about a failure, for the log line. */
function actionFor(error: unknown): string {
  if (!(error instanceof PikaError)) return '';
  if (error.kind === 'unauthorized') return ': the Pika API refused the key — check PIKA_API_KEY (and PIKA_API_URL)';
  if (error.kind === 'out_of_balance') return ': the Pika account is out of balance — top it up with the provider';
  return '';
}
const INTERRUPTED_START =
  'The bot restarted while this video was being started, so it is unknown whether it began. To avoid charging twice it was not sent again, and it did not count against your allowance. Please try again.';
const IMAGE_DOWNLOAD_TIMEOUT_MS = 20_000;
/** Slowest CDN download we wait for, to size the video download timeout. */
const VIDEO_DOWNLOAD_SPEED = { baseMs: 30_000, bytesPerSecond: 512 * 1024 };

/**
 * The life of one request: start (write-ahead record, one generate call) → poll (through the
 * shared scheduler, with throttled progress edits) → deliver (the mp4 on the same reply) →
 * settle (the allowance kept or refunded, exactly once, and the record removed).
 */
export class TaskService {
  /** Starts and deliveries under way: what shutdown waits for, so a paid start gets its task id recorded. */
  private readonly underWay = new Set<Promise<void>>();
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(private readonly deps: TaskServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.newId = deps.newId ?? randomUUID;
  }

  /**
   * Runs a checked request whose interaction was already deferred. Never throws: every failure
   * ends as a message on the reply.
   */
  start(request: GenerationRequest, reply: ReplyTarget, admitted: Pick<Admitted, 'reservation' | 'ticket'>): Promise<void> {
    const started = this.startTask(request, reply, admitted);
    this.track(started);
    return started;
  }

  private async startTask(request: GenerationRequest, reply: ReplyTarget, { reservation, ticket }: Pick<Admitted, 'reservation' | 'ticket'>): Promise<void> {
    const { config, pika, store, logger } = this.deps;
    const createdAt = this.now();
    const record: TaskRecord = {
      id: this.newId(),
      state: 'starting',
      request: toDisplayRequest(request),
      reply,
      reservation: { id: reservation.id, guildId: reservation.guildId, userId: reservation.userId },
      createdAt,
      deadlineAt: createdAt + config.taskTimeoutMs,
    };
    const task = new RunningTask(record, this.deps, this.now, (delivery) => this.track(delivery));
    const log = logger.child({ task: record.id, kind: request.kind, user: reply.requesterId });
    task.showProgress({ status: 'Starting', progress: 0, posterUrl: undefined });

    let body;
    try {
      const imageRefs = await resolveImageRefs(request.images, {
        transport: config.imageTransport,
        maxImageBytes: config.maxImageBytes,
        downloadTimeoutMs: IMAGE_DOWNLOAD_TIMEOUT_MS,
      });
      body = buildGenerateBody(request, imageRefs);
      await store.save(record);
    } catch (error) {
      log.warn('request could not be prepared', { error });
      ticket.release();
      return task.fail(reasonFor(error), false);
    }

    try {
      record.pikaTaskId = await pika.generate(body);
      ticket.succeeded();
    } catch (error) {
      ticket.failed(error instanceof PikaError && error.isUpstreamFault);
      log.error(`generate failed${actionFor(error)}`, { error });
      return task.fail(reasonFor(error));
    }

    record.state = 'running';
    log.info('task started', { pikaTaskId: record.pikaTaskId });
    try {
      await store.save(record);
    } catch (error) {
      // The video is paid for: keep going even if it could not be recorded for resuming.
      log.error('could not record the started task', { error });
    }
    this.deps.scheduler.add(task, config.pollIntervalMs);
  }

  /**
   * After a restart: resumes every task that was running, tells the users whose start was cut
   * off (outcome unknown: never re-sent), and refunds reservations whose task is gone.
   */
  async resumeAll(): Promise<{ resumed: number; interrupted: number; refunded: number }> {
    const { store, usage, logger, config } = this.deps;
    const records = await store.list();
    let resumed = 0;
    let interrupted = 0;
    for (const record of records) {
      const task = new RunningTask(record, this.deps, this.now, (delivery) => this.track(delivery));
      if (record.state === 'running' && record.pikaTaskId) {
        this.deps.scheduler.add(task, 0);
        resumed++;
      } else {
        logger.warn('a start was interrupted; not re-sending generate', { task: record.id });
        await task.fail(INTERRUPTED_START);
        interrupted++;
      }
    }
    const live = new Set(records.filter((r) => r.state === 'running').map((r) => r.reservation.id));
    const repaired = await usage.repair();
    let refunded = 0;
    for (const reservation of await usage.openReservations()) {
      if (live.has(reservation.id)) continue;
      if (await usage.settle(reservation, 'refunded')) refunded++;
    }
    logger.info('resumed after restart', { resumed, interrupted, refunded, repaired, pollIntervalMs: config.pollIntervalMs });
    return { resumed, interrupted, refunded };
  }

  /** Waits for the starts and deliveries already under way (used at shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.underWay]);
  }

  private track(work: Promise<void>): void {
    this.underWay.add(work);
    work
      .catch((error: unknown) => this.deps.logger.error('a task failed unexpectedly', { error }))
      .finally(() => this.underWay.delete(work));
  }
}

const STATUS_WORDS: Record<string, string> = {
  '': 'Starting',
  queued: 'Queued',
  pending: 'Generating',
  started: 'Generating',
  processing: 'Generating',
  running: 'Generating',
};

/** Words for an upstream status the document may not name. */
export function describeStatus(status: string | undefined): string {
  const key = (status ?? '').toLowerCase();
  return STATUS_WORDS[key] ?? key.charAt(0).toUpperCase() + key.slice(1);
}

class RunningTask {
  private readonly editor: ProgressEditor;
  private readonly request: DisplayRequest;
  private readonly reply: ReplyTarget;
  private readonly log: Logger;
  private feedFailures = 0;

  constructor(
    private readonly record: TaskRecord,
    private readonly deps: TaskServiceDeps,
    private readonly now: () => number,
    private readonly trackDelivery: (delivery: Promise<void>) => void,
  ) {
    this.request = record.request;
    this.reply = record.reply;
    this.log = deps.logger.child({ task: record.id });
    this.editor = new ProgressEditor({
      send: (body) => this.editProgress(body),
      intervalMs: deps.config.progressEditIntervalMs,
      onError: (error) => this.log.warn('progress edit failed; a newer one will follow', { error }),
      now,
    });
  }

  /**
   * Progress goes to the reply while its token lives; after that the task carries on and only
   * the final message is posted (in the channel). The reply's id is kept for that fallback.
   */
  private async editProgress(body: MessageBody): Promise<void> {
    if (!this.deps.replies.tokenUsable(this.reply)) return;
    const message = await this.deps.replies.edit(this.reply, body);
    if (!this.reply.messageId && message?.id) {
      this.reply.messageId = message.id;
      if (this.record.state === 'running') await this.deps.store.save(this.record);
    }
  }

  showProgress(state: { status: string; progress: number; posterUrl: string | undefined }): void {
    const key = `${state.status}|${state.progress}|${state.posterUrl ?? ''}`;
    this.editor.show(key, () => renderProgress(this.request, state, this.now() - this.record.createdAt));
  }

  /** One scheduler tick: read the feed, show progress, and hand off to delivery when done. */
  async poll(): Promise<number | 'done'> {
    const { config, pika } = this.deps;
    if (this.now() >= this.record.deadlineAt) {
      this.log.warn('task timed out', { pikaTaskId: this.record.pikaTaskId });
      await this.fail(timeoutReason(config.taskTimeoutMs));
      return 'done';
    }
    let video: PikaVideo | undefined;
    try {
      const feed = await pika.feed(this.record.pikaTaskId!);
      video = feed.videos[0];
      this.feedFailures = 0;
    } catch (error) {
      this.feedFailures++;
      this.log.warn('feed poll failed; retrying', { error, failures: this.feedFailures });
      return this.backoffDelay();
    }

    if (video?.status === 'finished') {
      this.trackDelivery(this.deliver(video));
      return 'done';
    }
    if (video?.status === 'error') {
      this.log.warn('task failed upstream', { upstreamError: video.error });
      await this.fail(taskErrorReason(video.error));
      return 'done';
    }
    this.showProgress({
      status: video ? describeStatus(video.status) : 'Waiting to start',
      progress: video?.progress ?? 0,
      posterUrl: httpUrlOrUndefined(video?.videoPoster || video?.imageThumb),
    });
    return config.pollIntervalMs;
  }

  /** Exponential backoff with full jitter, never past the deadline. */
  private backoffDelay(): number {
    const ceiling = Math.min(MAX_FEED_BACKOFF_MS, this.deps.config.pollIntervalMs * 2 ** this.feedFailures);
    const delay = this.deps.config.pollIntervalMs / 2 + Math.random() * ceiling;
    return Math.max(0, Math.min(delay, this.record.deadlineAt - this.now()));
  }

  private async deliver(video: PikaVideo): Promise<void> {
    const { config, replies } = this.deps;
    await this.editor.close();
    const resultUrl = video.resultUrl || video.sharingUrl;
    if (!resultUrl) {
      await this.fail(taskErrorReason('the task finished without a video'));
      return;
    }
    const elapsed = this.now() - this.record.createdAt;
    const base: Omit<FinishedVideo, 'attachmentName' | 'sizeBytes'> = {
      seed: video.seed,
      durationSeconds: video.duration,
      resultUrl,
    };
    try {
      const { data, contentType } = await downloadBounded(resultUrl, {
        maxBytes: config.maxVideoBytes,
        timeoutMs: transferTimeoutMs(config.maxVideoBytes, VIDEO_DOWNLOAD_SPEED),
      });
      if (!isMp4(data, contentType)) {
        this.log.warn('result is not an mp4', { contentType });
        await this.fail('Pika finished, but what it returned is not an mp4 video.');
        return;
      }
      const name = videoFileName(video.seed, this.record.pikaTaskId ?? this.record.id);
      const sized = { ...base, sizeBytes: data.length };
      if (data.length <= this.reply.attachmentSizeLimit) {
        try {
          const message = await replies.deliver(this.reply, renderDelivery(this.request, this.reply.requesterId, { ...sized, attachmentName: name }, elapsed), { name, data });
          this.log.info('video delivered', { bytes: data.length, seed: video.seed });
          return await this.delivered(message, video.seed);
        } catch (error) {
          if (!isTooLarge(error)) throw error;
          this.log.warn('upload refused as too large; linking instead', { bytes: data.length });
        }
      }
      const message = await replies.deliver(this.reply, renderDelivery(this.request, this.reply.requesterId, { ...sized, attachmentName: undefined }, elapsed));
      this.log.info('video delivered as a link', { bytes: data.length, seed: video.seed });
      await this.delivered(message, video.seed);
    } catch (error) {
      this.log.error('delivery failed', { error });
      await this.fail(`The video was made, but could not be posted here: ${reasonFor(error)}`);
    }
  }

  /**
   * Ends the task without a video, saying why on its reply, and refunds the allowance.
   * `recorded` is false when the write-ahead record was never stored.
   */
  async fail(reason: string, recorded = true): Promise<void> {
    await this.editor.close();
    // Refunded before the user reads the failure, so an immediate retry is not refused.
    await this.settleReservation('refunded');
    try {
      await this.deps.replies.deliver(this.reply, renderFailure(this.request, reason));
    } catch (error) {
      this.log.error('could not show the failure on the reply', { error });
    }
    if (recorded) await this.forget();
  }

  private async delivered(message: PostedMessage, seed: number | undefined): Promise<void> {
    await this.settle('delivered');
    if (this.reply.guildId) {
      await this.deps.audit?.generation({
        guildId: this.reply.guildId,
        userId: this.reply.requesterId,
        command: `/pika ${this.request.kind}`,
        prompt: this.request.prompt,
        seed,
        messageUrl: messageUrl(this.reply.guildId, message),
      });
    }
  }

  private async settle(outcome: Settlement): Promise<void> {
    await this.settleReservation(outcome);
    await this.forget();
  }

  /** Exactly once: a second settlement of the same reservation is a no-op. */
  private async settleReservation(outcome: Settlement): Promise<void> {
    try {
      await this.deps.usage.settle(this.record.reservation, outcome);
      this.log.info('task settled', { outcome });
    } catch (error) {
      // Left for the start-up reconciliation, which settles reservations whose task is gone.
      this.log.error('could not settle the task', { error, outcome });
    }
  }

  /** Removes the write-ahead record last, so a crash before it repeats only no-ops. */
  private async forget(): Promise<void> {
    try {
      await this.deps.store.delete(this.record.id);
    } catch (error) {
      this.log.error('could not remove the task record', { error });
    }
  }
}

function httpUrlOrUndefined(url: string | undefined): string | undefined {
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}

/** mp4 files carry an `ftyp` box right after the first size field. */
function isMp4(data: Buffer, contentType: string | undefined): boolean {
  const looksLikeMp4 = data.length >= 12 && data.subarray(4, 8).toString('latin1') === 'ftyp';
  const typeAllowed = contentType === undefined || contentType === 'video/mp4' || contentType === 'application/octet-stream';
  return looksLikeMp4 && typeAllowed;
}

function isTooLarge(error: unknown): boolean {
  return error instanceof DiscordAPIError && (error.status === 413 || error.code === 40005);
}
