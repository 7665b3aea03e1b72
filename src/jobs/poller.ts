import { audiencesOf, renderProgress, toDisplayRequest, type MessageBody, type ProgressStatus, type ProgressStatusCode } from '../discord/messages.js';
import { classifyWriteFailure, type ReplyWriter } from '../discord/replies.js';
import type { Logger } from '../logger.js';
import type { PikaClient } from '../pika/client.js';
import type { PikaVideo } from '../pika/types.js';
import { ProgressEditor } from './progress-editor.js';
import type { PollJob } from './scheduler.js';
import { markDelivering, markFailed, markReplyGone, withReplyMessage, type Failure, type Job } from './job.js';
import type { JobHooks } from './job-hooks.js';

export interface PollerDeps {
  config: { pollIntervalMs: number; progressEditIntervalMs: number };
  pika: Pick<PikaClient, 'feed'>;
  replies: Pick<ReplyWriter, 'edit' | 'tokenUsable'>;
  /** Makes upstream text (unknown statuses, errors) safe to show. */
  sanitize: (text: string) => string;
  logger: Logger;
  now: () => number;
}

const MAX_FEED_BACKOFF_MS = 60_000;

/** The stages the upstream statuses mean (the edge words them); unknown ones are shown as sent (sanitized). */
const STATUS_CODES: Record<string, ProgressStatusCode> = {
  '': 'starting',
  queued: 'queued',
  pending: 'generating',
  started: 'generating',
  processing: 'generating',
  running: 'generating',
};

/**
 * One running job's polling, as a task of the shared poll scheduler: reads the feed, keeps the
 * reply's progress current (throttled), and hands a finished task to delivery. A reply that
 * Discord says is gone is written to no more: at most one request reaches a dead reply.
 */
export class FeedPoll implements PollJob {
  private readonly editor: ProgressEditor;
  private readonly log: Logger;
  private feedFailures = 0;

  constructor(
    private readonly id: string,
    private readonly deps: PollerDeps,
    private readonly hooks: JobHooks,
  ) {
    this.log = deps.logger.child({ job: id });
    this.editor = new ProgressEditor({
      send: (body) => this.editProgress(body),
      intervalMs: deps.config.progressEditIntervalMs,
      onError: (error) => this.progressFailed(error),
      now: deps.now,
    });
  }

  private get job(): Job {
    return this.hooks.current(this.id);
  }

  /** Shows a state on the reply (throttled; only the newest pending state is sent). */
  showProgress(state: { status: ProgressStatus; progress: number; posterUrl: string | undefined }): void {
    const status = typeof state.status === 'string' ? state.status : `upstream:${state.status.upstream}`;
    const key = `${status}|${state.progress}|${state.posterUrl ?? ''}`;
    this.editor.show(key, () =>
      renderProgress(toDisplayRequest(this.job.request), state, this.deps.now() - this.job.createdAt, audiencesOf(this.job).requester),
    );
  }

  async poll(): Promise<number | 'done'> {
    // Another worker took the job over: it is theirs to carry on.
    if (!this.hooks.carries(this.id)) return 'done';
    const { config, pika, now } = this.deps;
    if (now() >= this.job.deadlineAt) {
      this.log.warn('task timed out', { pikaTaskId: this.job.pikaTaskId });
      await this.fail({ code: 'timed_out', billed: true, waitedMs: this.job.deadlineAt - this.job.createdAt });
      return 'done';
    }
    let video: PikaVideo | undefined;
    try {
      video = (await pika.feed(this.job.pikaTaskId!)).videos[0];
      this.feedFailures = 0;
    } catch (error) {
      this.feedFailures++;
      this.log.warn('feed poll failed; retrying', { error, failures: this.feedFailures });
      return this.backoffDelay();
    }

    if (video?.status === 'finished') {
      await this.stopProgress();
      const result = {
        resultUrl: video.resultUrl || undefined,
        sharingUrl: video.sharingUrl || undefined,
        seed: video.seed,
        durationSeconds: video.duration,
        finishedAt: now(),
      };
      if (!result.resultUrl && !result.sharingUrl) {
        await this.fail({ code: 'no_video', billed: true });
        return 'done';
      }
      await this.hooks.update(this.id, (job) => markDelivering(job, result, now()));
      this.hooks.deliver(this.id);
      return 'done';
    }
    if (video?.status === 'error') {
      this.log.warn('task failed upstream', { upstreamError: video.error });
      const detail = video.error ? this.deps.sanitize(video.error) : '';
      await this.fail({ code: 'task_failed', billed: true, ...(detail ? { detail } : {}) });
      return 'done';
    }
    this.showProgress({
      status: video ? this.statusOf(video.status) : 'waiting',
      progress: video?.progress ?? 0,
      posterUrl: httpUrlOrUndefined(video?.videoPoster || video?.imageThumb),
    });
    return config.pollIntervalMs;
  }

  private statusOf(status: string): ProgressStatus {
    return STATUS_CODES[status.toLowerCase()] ?? { upstream: this.deps.sanitize(status) };
  }

  private async fail(failure: Failure): Promise<void> {
    await this.stopProgress();
    await this.hooks.end(this.id, (job) => markFailed(job, failure, this.deps.now()));
  }

  /** No more progress edits; resolves once the one in flight is done, so it can't overtake a final message. */
  stopProgress(): Promise<void> {
    return this.editor.close();
  }

  /** Exponential backoff with full jitter, never past the deadline. */
  private backoffDelay(): number {
    const { pollIntervalMs } = this.deps.config;
    const ceiling = Math.min(MAX_FEED_BACKOFF_MS, pollIntervalMs * 2 ** this.feedFailures);
    const delay = pollIntervalMs / 2 + Math.random() * ceiling;
    return Math.max(0, Math.min(delay, this.job.deadlineAt - this.deps.now()));
  }

  /**
   * Progress goes to the reply while its token lives; after that the job carries on and only
   * the final message is posted (in the channel). The reply's id is kept for that fallback.
   */
  private async editProgress(body: MessageBody): Promise<void> {
    if (!this.deps.replies.tokenUsable(this.job.reply)) return;
    const message = await this.deps.replies.edit(this.job.reply, body);
    if (!this.job.reply.messageId && message?.id) await this.hooks.update(this.id, (job) => withReplyMessage(job, message.id, this.deps.now()));
  }

  private progressFailed(error: unknown): void {
    if (classifyWriteFailure(error) !== 'gone') {
      this.log.warn('progress edit failed; a newer one will follow', { error });
      return;
    }
    this.log.warn('the reply is gone (token expired or message deleted); the video will be posted in the channel', { code: (error as { code?: unknown }).code });
    void this.hooks.update(this.id, (job) => markReplyGone(job, this.deps.now()));
  }
}

function httpUrlOrUndefined(url: string | undefined): string | undefined {
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}
