import { rm } from 'node:fs/promises';
import { audiencesOf, renderDelivery, toDisplayRequest, videoFileName, type FinishedVideo } from '../discord/messages.js';
import { classifyWriteFailure, messageUrl, type ReplyWriter } from '../discord/replies.js';
import { DownloadError } from '../download.js';
import type { Logger } from '../logger.js';
import type { PollJob } from './scheduler.js';
import type { ByteBudget } from '../util/byte-budget.js';
import { markDelivered, markFailed, markReplyGone, type Failure, type Job, type JobOutcome } from './job.js';
import type { JobHooks } from './job-hooks.js';
import type { Locale } from '../i18n/index.js';

/** A result downloaded to disk, ready to upload. */
export interface FetchedVideo {
  path: string;
  sizeBytes: number;
  contentType: string | undefined;
  /** The first bytes, for the mp4 signature. */
  head: Buffer;
}

export interface DeliveryDeps {
  config: {
    maxVideoBytes: number;
    /** How long a Discord outage is waited out before the video is given up. */
    deliveryRetryMs: number;
    /** How long a failing result download is retried before the sharing URL, then a link. */
    downloadRetryMs: number;
    /** First pause between retries; doubles up to a minute. */
    retryBaseMs: number;
  };
  replies: Pick<ReplyWriter, 'post'>;
  fetchVideo: (url: string, maxBytes: number) => Promise<FetchedVideo>;
  budget: ByteBudget;
  logger: Logger;
  now: () => number;
}

const MAX_RETRY_DELAY_MS = 60_000;
/** How soon a delivery looks again for room in a full byte budget. */
const BUDGET_WAIT_MS = 250;

/** What will be posted: the file itself, or a link (too large to upload, or not fetchable). */
type Media =
  | { kind: 'file'; file: FetchedVideo }
  | { kind: 'link'; url: string; sizeBytes: number | undefined; reason: 'too_large' | 'unreachable' };

/**
 * Delivers one finished job, as a task of the delivery scheduler: each tick makes one attempt
 * and answers when to try again. The result is downloaded (retried for minutes, since CDNs
 * often 404 right after `finished`, then the sharing URL, then linked rather than lost), then
 * posted on the reply, or in the channel once the reply is gone. A Discord outage is waited out
 * with capped exponential backoff for `deliveryRetryMs`; the job stays `delivering` in the store
 * meanwhile, so a restart picks it up again.
 */
export class DeliveryRun implements PollJob {
  private readonly log: Logger;
  private media: Media | undefined;
  private source = 0;
  private downloadFailures = 0;
  private downloadFailingSince: number | undefined;
  private postFailures = 0;

  constructor(
    private readonly id: string,
    private readonly deps: DeliveryDeps,
    private readonly hooks: JobHooks,
  ) {
    this.log = deps.logger.child({ job: id });
  }

  private get job(): Job {
    return this.hooks.current(this.id);
  }

  /**
   * One attempt. Its transfers hold a share of the byte budget for the attempt's length only,
   * and a full budget is waited for outside the scheduler's slots, so deliveries waiting for
   * a retry or for bytes can never keep the others from running.
   */
  async poll(): Promise<number | 'done'> {
    // Another worker took the job over: it is theirs to carry on.
    if (!this.hooks.carries(this.id)) return 'done';
    const sources = this.sources();
    if (sources.length === 0) {
      await this.fail({ code: 'no_video', billed: true });
      return 'done';
    }
    const release = this.deps.budget.tryAcquire(this.transferBytes());
    if (!release) return BUDGET_WAIT_MS;
    try {
      if (!this.media) {
        const wait = await this.fetchMedia(sources);
        if (wait !== undefined) return wait;
      }
      return await this.post();
    } finally {
      release();
    }
  }

  /** Anything over the channel's upload limit would only be linked: no need to fetch more. */
  private transferBytes(): number {
    return Math.min(this.deps.config.maxVideoBytes, this.job.reply.attachmentSizeLimit);
  }

  /** Gives up a pending attempt at shutdown: the job stays `delivering` and resumes on the next start. */
  async abandon(): Promise<void> {
    await this.dropFile();
  }

  private sources(): string[] {
    const { resultUrl, sharingUrl } = this.job.result ?? {};
    return [...new Set([resultUrl, sharingUrl].filter((url): url is string => !!url && /^https?:\/\//i.test(url)))];
  }

  /** Sets `media`, or answers how long to wait before trying the download again. */
  private async fetchMedia(sources: string[]): Promise<number | undefined> {
    const url = sources[this.source]!;
    try {
      this.media = { kind: 'file', file: await this.deps.fetchVideo(url, this.transferBytes()) };
      return undefined;
    } catch (error) {
      return this.downloadFailed(error, url, sources);
    }
  }

  private downloadFailed(error: unknown, url: string, sources: string[]): number | undefined {
    const reason = error instanceof DownloadError ? error.reason : 'network';
    if (reason === 'too_large') {
      const { sizeBytes } = error as DownloadError;
      this.log.info('the video is over the upload limit; linking it', { sizeBytes });
      this.media = { kind: 'link', url, sizeBytes, reason: 'too_large' };
      return undefined;
    }
    const now = this.deps.now();
    this.downloadFailingSince ??= now;
    const retriable = reason === 'network' || reason === 'timeout' || reason === 'bad_status' || reason === 'empty';
    if (retriable && now - this.downloadFailingSince < this.deps.config.downloadRetryMs) {
      this.downloadFailures++;
      this.log.warn('downloading the video failed; retrying', { error, failures: this.downloadFailures });
      return this.retryDelay(this.downloadFailures);
    }
    this.log.warn('giving up this address for the video', { error, source: this.source });
    this.source++;
    this.downloadFailures = 0;
    this.downloadFailingSince = undefined;
    if (this.source >= sources.length) {
      // The sharing URL is the address meant for people to open.
      this.media = { kind: 'link', url: this.job.result?.sharingUrl && sources.includes(this.job.result.sharingUrl) ? this.job.result.sharingUrl : url, sizeBytes: undefined, reason: 'unreachable' };
      return undefined;
    }
    return 0;
  }

  private async post(): Promise<number | 'done'> {
    const media = this.media!;
    if (media.kind === 'file' && !isMp4(media.file)) {
      this.log.warn('result is not an mp4', { contentType: media.file.contentType });
      await this.dropFile();
      await this.fail({ code: 'not_mp4', billed: true });
      return 'done';
    }
    const video = this.finishedVideo(media);
    const { id, request, reply, result, createdAt } = this.job;
    const message = {
      render: (locale: Locale) => renderDelivery(toDisplayRequest(request), reply.requesterId, video, result!.finishedAt - createdAt, locale, id),
      audiences: audiencesOf(this.job),
    };
    try {
      const posted = await this.deps.replies.post(
        this.job.reply,
        message,
        media.kind === 'file' ? { name: video.attachmentName!, path: media.file.path, sizeBytes: media.file.sizeBytes } : undefined,
      );
      const outcome: JobOutcome = {
        messageId: posted.message.id,
        channelId: posted.message.channel_id,
        messageUrl: messageUrl(this.job.reply.guildId, posted.message),
        seed: this.job.result!.seed,
        sizeBytes: video.sizeBytes,
        how: media.kind === 'file' ? 'attached' : 'linked',
        where: posted.where,
      };
      this.log.info('video delivered', { how: outcome.how, where: outcome.where, bytes: outcome.sizeBytes, seed: outcome.seed });
      await this.dropFile();
      await this.hooks.end(this.id, (job) => markDelivered(job, outcome, this.deps.now()));
      return 'done';
    } catch (error) {
      return this.postFailed(error, media);
    }
  }

  private async postFailed(error: unknown, media: Media): Promise<number | 'done'> {
    if (media.kind === 'file' && (error as NodeJS.ErrnoException).code === 'ENOENT') {
      // The downloaded file went missing (a cleaned temp directory): fetch it again.
      this.media = undefined;
      return 0;
    }
    const failure = classifyWriteFailure(error);
    if (failure === 'gone' && !this.job.reply.gone) {
      this.log.warn('the reply is gone; posting in the channel instead', { code: (error as { code?: unknown }).code });
      await this.hooks.update(this.id, (job) => markReplyGone(job, this.deps.now()));
      return 0;
    }
    if (media.kind === 'file' && (failure === 'too_large' || failure === 'permanent')) {
      // Discord refused the file itself: the link still gets the video to the user.
      this.log.warn('the upload was refused; linking the video instead', { error });
      await this.dropFile();
      this.media = { kind: 'link', url: this.sources()[this.source] ?? '', sizeBytes: media.file.sizeBytes, reason: failure === 'too_large' ? 'too_large' : 'unreachable' };
      return 0;
    }
    const waited = this.deps.now() - (this.job.deliveringSince ?? this.deps.now());
    if (failure === 'transient' && waited < this.deps.config.deliveryRetryMs) {
      this.postFailures++;
      // A 429 says how long to wait; uploads bypass @discordjs/rest, which would otherwise honour it.
      const retryAfterMs = Number((error as { retryAfterMs?: unknown }).retryAfterMs ?? 0);
      const delay = Math.max(this.retryDelay(this.postFailures), retryAfterMs);
      this.log.warn('posting the video failed; retrying', { error, attempt: this.postFailures, delayMs: Math.round(delay) });
      return delay;
    }
    this.log.error('the video could not be posted; giving up', { error, waitedMs: waited });
    await this.fail({ code: 'undeliverable', billed: true });
    return 'done';
  }

  private async fail(failure: Failure): Promise<void> {
    await this.dropFile();
    await this.hooks.end(this.id, (job) => markFailed(job, failure, this.deps.now()));
  }

  private finishedVideo(media: Media): FinishedVideo {
    const { seed, durationSeconds } = this.job.result!;
    const base = { seed, durationSeconds };
    if (media.kind === 'file') {
      return { ...base, resultUrl: this.sources()[this.source]!, sizeBytes: media.file.sizeBytes, attachmentName: videoFileName(seed, this.job.pikaTaskId ?? this.job.id) };
    }
    return { ...base, resultUrl: media.url, sizeBytes: media.sizeBytes, attachmentName: undefined, linkReason: media.reason };
  }

  /** Capped exponential backoff with jitter, so a recovering Discord is not hit by every job at once. */
  private retryDelay(failures: number): number {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.deps.config.retryBaseMs * 2 ** (failures - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private async dropFile(): Promise<void> {
    if (this.media?.kind !== 'file') return;
    await rm(this.media.file.path, { force: true });
    this.media = undefined;
  }
}

/** mp4 files carry an `ftyp` box right after the first size field. */
function isMp4(file: FetchedVideo): boolean {
  const looksLikeMp4 = file.head.length >= 12 && file.head.subarray(4, 8).toString('latin1') === 'ftyp';
  const typeAllowed = file.contentType === undefined || file.contentType === 'video/mp4' || file.contentType === 'application/octet-stream';
  return looksLikeMp4 && typeAllowed;
}
