import { REST, Routes, SnowflakeUtil } from 'discord.js';
import { transferTimeoutMs } from '../download.js';
import { processClock } from '../clock.js';
import { messagesFor, type Locale } from '../i18n/index.js';
import { pingOnly, renderNotice, type Audiences, type MessageBody, type Notice } from './messages.js';
import { uploadMessage } from './upload.js';

/** Where a job's answers go: the interaction's original reply, or its channel. Serializable, for resuming. */
export interface ReplyTarget {
  applicationId: string;
  /** Secret for 15 minutes: never logged (the logger redacts webhook paths), dropped when the job ends. */
  interactionToken?: string;
  interactionId: string;
  channelId: string;
  guildId: string | null;
  requesterId: string;
  /** Largest upload this channel takes for this interaction, in bytes. */
  attachmentSizeLimit: number;
  /** The reply's message id: what a channel fallback replies to. */
  messageId?: string;
  /** Discord said the token expired or the reply was deleted: never written through the interaction again. */
  gone?: boolean;
  /**
   * False where the bot cannot post in the channel (the app is installed to the user's account
   * only, or it is a private channel): the interaction is the only way to answer.
   */
  channelFallback?: boolean;
}

/** Neither the interaction nor the channel can take a message: a permanent failure (HTTP 410 Gone, for classifyWriteFailure). */
export class NowhereToAnswerError extends Error {
  override readonly name = 'NowhereToAnswerError';
  readonly status = 410;
  constructor() {
    super('the interaction token has expired and the bot cannot post in this channel');
  }
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

/** Discord error codes meaning the interaction webhook or its message is gone. */
const INVALID_WEBHOOK_TOKEN = 50027;
const UNKNOWN_WEBHOOK = 10015;
const UNKNOWN_MESSAGE = 10008;
const FILE_TOO_LARGE = 40005;

export function uploadTimeoutMs(bytes: number): number {
  return transferTimeoutMs(bytes, UPLOAD_SPEED);
}

/** A video waiting on disk to be uploaded. */
export interface VideoFile {
  name: string;
  path: string;
  sizeBytes: number;
}

export interface ReplyWriterOptions {
  rest: REST;
  /** Discord's REST base including `/api` (the fake's in tests). */
  apiUrl: string;
  botToken: string;
  now?: () => number;
}

/**
 * A final message, rendered for whoever reads it where it lands: in the requester's language on
 * their reply, in the server's when it is posted in the channel for everyone.
 */
export interface FinalMessage {
  render: (locale: Locale) => MessageBody;
  audiences: Audiences;
}

export interface Posted {
  message: PostedMessage;
  where: 'reply' | 'channel';
}

/**
 * Writes to a job's reply, one attempt per call: the job decides what to retry and when.
 * Progress edits go to the interaction's original message. A final message goes there too while
 * the token is usable, and otherwise to the channel, replying to the original message and
 * mentioning only the requester.
 *
 * Every write to the reply is an edit of `@original`, which is idempotent, so a retry after a
 * lost answer can't post twice; channel messages carry an enforced nonce for the same reason.
 */
export class ReplyWriter {
  private readonly now: () => number;

  constructor(private readonly options: ReplyWriterOptions) {
    this.now = options.now ?? processClock;
  }

  /** True while the reply can still be written through the interaction. */
  tokenUsable(target: ReplyTarget): boolean {
    return this.tokenRemainingMs(target) > 0;
  }

  /** How long the interaction token has left (0 once it cannot be used). */
  tokenRemainingMs(target: ReplyTarget): number {
    if (!target.interactionToken || target.gone) return 0;
    return Math.max(0, SnowflakeUtil.timestampFrom(target.interactionId) + TOKEN_LIFETIME_MS - this.now());
  }

  /** One edit of the reply (progress). */
  async edit(target: ReplyTarget, body: MessageBody): Promise<PostedMessage> {
    return (await this.options.rest.patch(originalRoute(target), {
      body: { ...body, attachments: [] },
      auth: false,
    })) as PostedMessage;
  }

  /** Posts the final message (with `video` attached when given) once, where it can still go. */
  async post(target: ReplyTarget, final: FinalMessage, video?: VideoFile): Promise<Posted> {
    if (this.tokenUsable(target)) {
      const body = final.render(final.audiences.requester);
      const message = video ? await this.upload('PATCH', originalRoute(target), { ...body, attachments: [{ id: 0, filename: video.name }] }, video, false) : await this.edit(target, body);
      return { message, where: 'reply' };
    }
    if (target.channelFallback === false) throw new NowhereToAnswerError();
    return { message: await this.postInChannel(target, final.render(final.audiences.server), final.audiences.server, video), where: 'channel' };
  }

  /**
   * Tells the requester, by a follow-up that mentions only them, that their reply now shows the
   * outcome: an edit notifies no one. Sent only after the reply was edited, since Discord turns
   * the first follow-up of an unedited deferral into the reply itself. Undefined when the token
   * is no longer usable.
   */
  async notify(target: ReplyTarget, notice: Notice, locale: Locale): Promise<PostedMessage | undefined> {
    if (!this.tokenUsable(target)) return undefined;
    return (await this.options.rest.post(Routes.webhook(target.applicationId, target.interactionToken!), {
      body: renderNotice(target.requesterId, notice, locale),
      query: new URLSearchParams({ wait: 'true' }),
      auth: false,
    })) as PostedMessage;
  }

  /** Deletes a follow-up of the interaction (a notification that no longer has anything to point at). */
  async withdraw(target: ReplyTarget, messageId: string): Promise<void> {
    if (!this.tokenUsable(target)) return;
    await this.options.rest.delete(Routes.webhookMessage(target.applicationId, target.interactionToken!, messageId), { auth: false });
  }

  /** A normal message replying to the original one (if it still exists), pinging only the requester. */
  private async postInChannel(target: ReplyTarget, body: MessageBody, locale: Locale, video: VideoFile | undefined): Promise<PostedMessage> {
    const mention = `<@${target.requesterId}>`;
    const payload = {
      ...body,
      content: body.content.includes(mention) ? body.content : `${mention} ${body.content || messagesFor(locale).pikaChannelOutcome}`,
      allowed_mentions: { ...pingOnly(target.requesterId), replied_user: false },
      // One nonce per job and kind of message: Discord then never creates it twice.
      nonce: `${target.interactionId}${video ? 'v' : 'm'}`.slice(-25),
      enforce_nonce: true,
      ...(target.messageId ? { message_reference: { message_id: target.messageId, fail_if_not_exists: false } } : {}),
    };
    const route = Routes.channelMessages(target.channelId);
    if (video) return this.upload('POST', route, { ...payload, attachments: [{ id: 0, filename: video.name }] }, video, true);
    return (await this.options.rest.post(route, { body: payload })) as PostedMessage;
  }

  private upload(method: 'PATCH' | 'POST', route: string, payload: object, video: VideoFile, auth: boolean): Promise<PostedMessage> {
    return uploadMessage({
      url: `${this.options.apiUrl}/v10${route}`,
      method,
      ...(auth ? { botToken: this.options.botToken } : {}),
      payload,
      file: { name: video.name, path: video.path, contentType: 'video/mp4' },
      timeoutMs: uploadTimeoutMs(video.sizeBytes),
    });
  }
}

function originalRoute(target: ReplyTarget): `/${string}` {
  if (!target.interactionToken) throw new Error('the interaction token is gone');
  return Routes.webhookMessage(target.applicationId, target.interactionToken, '@original');
}

/** What to do after a failed write to Discord. */
export type WriteFailure = 'gone' | 'too_large' | 'transient' | 'permanent';

/** Classifies errors of @discordjs/rest and of file uploads alike, by HTTP status and Discord code. */
export function classifyWriteFailure(error: unknown): WriteFailure {
  const { status, code } = (error ?? {}) as { status?: unknown; code?: unknown };
  if (typeof status === 'number') {
    if ([INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE].includes(Number(code))) return 'gone';
    if (status === 413 || Number(code) === FILE_TOO_LARGE) return 'too_large';
    if (status >= 500 || status === 429 || status === 408) return 'transient';
    return 'permanent';
  }
  // No answer at all: a timeout or a dropped connection.
  return error instanceof Error ? 'transient' : 'permanent';
}
