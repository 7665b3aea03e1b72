import { setTimeout as sleep } from 'node:timers/promises';
import { DiscordAPIError, HTTPError, REST, Routes, SnowflakeUtil, type RawFile, type RESTOptions } from 'discord.js';
import { transferTimeoutMs } from '../download.js';
import type { Logger } from '../logger.js';
import { pingOnly, type MessageBody } from './messages.js';

/** Where a task's answer goes: the interaction's original reply. Serializable, for resuming. */
export interface ReplyTarget {
  applicationId: string;
  /** Secret for 15 minutes: never logged (the logger redacts webhook paths). */
  interactionToken: string;
  interactionId: string;
  channelId: string;
  guildId: string | null;
  requesterId: string;
  /** Largest upload this channel takes for this interaction, in bytes. */
  attachmentSizeLimit: number;
  /** The reply's message id, once an edit has returned it: what a channel fallback replies to. */
  messageId?: string;
}

/** What the bot needs of a message Discord returns. */
export interface PostedMessage {
  id: string;
  channel_id: string;
}

/** A link that opens the message in Discord. */
export function messageUrl(guildId: string | null, message: PostedMessage): string {
  return `https://discord.com/channels/${guildId ?? '@me'}/${message.channel_id}/${message.id}`;
}

export const DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024;

/** Interaction tokens live 15 minutes; past this age the webhook is not even tried. */
const TOKEN_LIFETIME_MS = 15 * 60_000 - 30_000;
/** Assumed worst-case upload to Discord, to size the upload timeout to the file. */
const UPLOAD_SPEED = { baseMs: 15_000, bytesPerSecond: 256 * 1024 };
/** Final messages are retried this many times on Discord 5xx, 429 or network errors. */
const FINAL_ATTEMPTS = 6;
const RETRY_BASE_MS = 500;

/** Discord error codes meaning the interaction webhook or its message is gone. */
const INVALID_WEBHOOK_TOKEN = 50027;
const UNKNOWN_WEBHOOK = 10015;
const UNKNOWN_MESSAGE = 10008;

export function uploadTimeoutMs(bytes: number): number {
  return transferTimeoutMs(bytes, UPLOAD_SPEED);
}

export interface VideoFile {
  name: string;
  data: Buffer;
}

export interface ReplyWriterOptions {
  rest: REST;
  restOptions: Partial<RESTOptions>;
  botToken: string;
  logger: Logger;
  now?: () => number;
  /** Base of the backoff between retries of a final message (tests shorten it). */
  retryBaseMs?: number;
}

/**
 * Writes to a task's reply. Progress goes to the interaction's original message and is
 * best-effort. The final message (video or failure) must arrive: it is retried on transient
 * errors, and when the interaction token has expired or the reply was deleted it is posted in
 * the channel instead, replying to the original message and mentioning only the requester.
 *
 * Every write to the reply is an edit of `@original`, which is idempotent, so @discordjs/rest
 * retrying a timed-out request can't post twice; channel messages carry an enforced nonce for
 * the same reason.
 */
export class ReplyWriter {
  private readonly now: () => number;

  constructor(private readonly options: ReplyWriterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** True while the interaction token can still be used. */
  tokenUsable(target: ReplyTarget): boolean {
    return this.now() - SnowflakeUtil.timestampFrom(target.interactionId) < TOKEN_LIFETIME_MS;
  }

  /** One edit of the reply (progress): not retried beyond what the REST client does. */
  async edit(target: ReplyTarget, body: MessageBody): Promise<PostedMessage> {
    return (await this.options.rest.patch(Routes.webhookMessage(target.applicationId, target.interactionToken, '@original'), {
      body: { ...body, attachments: [] },
      auth: false,
    })) as PostedMessage;
  }

  /**
   * Shows the final message, with `video` attached when given. Resolves with where it was
   * posted; rejects only when every way failed (or with 413, which callers answer with a link).
   */
  async deliver(target: ReplyTarget, body: MessageBody, video?: VideoFile): Promise<PostedMessage> {
    let useChannel = !this.tokenUsable(target);
    for (let attempt = 1; ; attempt++) {
      try {
        return useChannel ? await this.postInChannel(target, body, video) : await this.editOriginal(target, body, video);
      } catch (error) {
        if (!useChannel && isGoneReply(error)) {
          this.options.logger.warn('the reply can no longer be edited; posting in the channel instead', { code: (error as DiscordAPIError).code });
          useChannel = true;
          attempt = 0;
          continue;
        }
        if (!isTransient(error) || attempt >= FINAL_ATTEMPTS) throw error;
        const delay = (this.options.retryBaseMs ?? RETRY_BASE_MS) * 2 ** (attempt - 1);
        this.options.logger.warn('final message failed; retrying', { attempt, delayMs: delay, error });
        await sleep(delay);
      }
    }
  }

  private async editOriginal(target: ReplyTarget, body: MessageBody, video: VideoFile | undefined): Promise<PostedMessage> {
    const route = Routes.webhookMessage(target.applicationId, target.interactionToken, '@original');
    if (!video) return this.edit(target, body);
    return (await this.uploadRest(video).patch(route, {
      body: { ...body, attachments: [{ id: 0, filename: video.name }] },
      files: [videoFile(video)],
      auth: false,
    })) as PostedMessage;
  }

  /** A normal message replying to the original one (if it still exists), pinging only the requester. */
  private async postInChannel(target: ReplyTarget, body: MessageBody, video: VideoFile | undefined): Promise<PostedMessage> {
    const mention = `<@${target.requesterId}>`;
    const payload = {
      ...body,
      content: body.content.includes(mention) ? body.content : `${mention} ${body.content || 'here is the outcome of your video request.'}`,
      allowed_mentions: { ...pingOnly(target.requesterId), replied_user: false },
      // One nonce per task and kind of message: Discord then never creates it twice.
      nonce: `${target.interactionId}${video ? 'v' : 'm'}`.slice(-25),
      enforce_nonce: true,
      ...(target.messageId ? { message_reference: { message_id: target.messageId, fail_if_not_exists: false } } : {}),
      ...(video ? { attachments: [{ id: 0, filename: video.name }] } : {}),
    };
    const rest = video ? this.uploadRest(video) : this.options.rest;
    return (await rest.post(Routes.channelMessages(target.channelId), {
      body: payload,
      ...(video ? { files: [videoFile(video)] } : {}),
    })) as PostedMessage;
  }

  /** Uploads get their own REST manager so the timeout can fit the file (the shared one allows 15 s). */
  private uploadRest(video: VideoFile): REST {
    return new REST({
      ...this.options.restOptions,
      timeout: uploadTimeoutMs(video.data.length),
      hashSweepInterval: 0,
      handlerSweepInterval: 0,
    }).setToken(this.options.botToken);
  }
}

function videoFile(video: VideoFile): RawFile {
  return { name: video.name, data: video.data, contentType: 'video/mp4' };
}

/** The interaction webhook has expired or is gone, or the reply was deleted. */
export function isGoneReply(error: unknown): boolean {
  return error instanceof DiscordAPIError && [INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE].includes(Number(error.code));
}

/** Worth trying again: Discord 5xx or rate limit, a timeout, a dropped connection. */
export function isTransient(error: unknown): boolean {
  if (error instanceof DiscordAPIError || error instanceof HTTPError) return error.status >= 500 || error.status === 429;
  if (error instanceof Error) return error.name === 'AbortError' || /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket|fetch failed/i.test(error.message);
  return false;
}
