import { REST, Routes, type RawFile, type RESTOptions } from 'discord.js';
import type { MessageBody } from './messages.js';

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

/** Assumed worst-case upload throughput to Discord, to size the upload timeout to the file. */
const UPLOAD_BYTES_PER_SECOND = 256 * 1024;
const UPLOAD_BASE_TIMEOUT_MS = 15_000;

export function uploadTimeoutMs(bytes: number): number {
  return UPLOAD_BASE_TIMEOUT_MS + Math.ceil((bytes / UPLOAD_BYTES_PER_SECOND) * 1000);
}

export interface VideoFile {
  name: string;
  data: Buffer;
}

/**
 * Writes to a task's reply through the interaction webhook. Every write is an edit of
 * `@original`, which is idempotent: when @discordjs/rest retries a request that timed out
 * (it does so on its own), the same message is edited again rather than posted twice.
 */
export class ReplyWriter {
  constructor(
    private readonly rest: REST,
    private readonly restOptions: Partial<RESTOptions>,
  ) {}

  async edit(target: ReplyTarget, body: MessageBody): Promise<PostedMessage> {
    return (await this.rest.patch(Routes.webhookMessage(target.applicationId, target.interactionToken, '@original'), {
      body: { ...body, attachments: [] },
      auth: false,
    })) as PostedMessage;
  }

  /**
   * Replaces the reply with `body` and the video attached. The upload gets its own REST manager
   * so its timeout can fit the file (the shared one allows 15 s per request).
   */
  async editWithVideo(target: ReplyTarget, body: MessageBody, video: VideoFile): Promise<PostedMessage> {
    const uploadRest = new REST({
      ...this.restOptions,
      timeout: uploadTimeoutMs(video.data.length),
      hashSweepInterval: 0,
      handlerSweepInterval: 0,
    });
    const file: RawFile = { name: video.name, data: video.data, contentType: 'video/mp4' };
    return (await uploadRest.patch(Routes.webhookMessage(target.applicationId, target.interactionToken, '@original'), {
      body: { ...body, attachments: [{ id: 0, filename: video.name }] },
      files: [file],
      auth: false,
    })) as PostedMessage;
  }
}
