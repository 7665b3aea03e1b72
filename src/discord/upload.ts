import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import type { PostedMessage } from './replies.js';

export interface UploadMessageOptions {
  /**
   * The full endpoint, e.g. `{api}/v10/webhooks/{appId}/{token}/messages/@original` or
   * `{api}/v10/channels/{id}/messages`. A webhook URL holds the interaction token, so it never
   * appears in errors.
   */
  url: string;
  method: 'PATCH' | 'POST';
  /** Sent as `Authorization: Bot <token>`; left out for interaction webhooks, which need none. */
  botToken?: string;
  /** The message, as `payload_json`; its `attachments` entry with id 0 describes the file. */
  payload: object;
  /** Sent as `files[0]`, streamed from disk while it is sent. */
  file: { name: string; path: string; contentType: string };
  /** For the whole exchange: size it to the file (see `uploadTimeoutMs`). */
  timeoutMs: number;
}

/** A failed upload. `status` is undefined when no answer came (timeout, dropped connection). */
export class DiscordUploadError extends Error {
  override readonly name = 'DiscordUploadError';
  readonly status: number | undefined;
  /** Discord's JSON error code, e.g. 40005 (too large) or 50027 (invalid webhook token). */
  readonly code: number | undefined;
  /** How long Discord asked to wait before trying again (429). */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: { status?: number; code?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: details.cause });
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Discord asks for `DiscordBot ($url, $version)` and may refuse requests without it. */
const USER_AGENT = 'DiscordBot (pika-discord, 0.1.0)';
/** Long enough for Discord's error text, short enough for a log line. */
const MAX_MESSAGE_CHARS = 300;

/**
 * Sends one message with one file attached as multipart/form-data, streaming the file from disk:
 * @discordjs/rest only takes files as Buffers, which would hold the whole video in memory.
 * Resolves with the message Discord returns.
 */
export async function uploadMessage(options: UploadMessageOptions): Promise<PostedMessage> {
  const form = await multipartBody(options);

  const secrets = secretsOf(options);
  const signal = AbortSignal.timeout(options.timeoutMs);
  let response: Dispatcher.ResponseData;
  let text: string;
  try {
    response = await request(options.url, {
      method: options.method,
      body: form.body,
      headers: {
        'user-agent': USER_AGENT,
        'content-type': `multipart/form-data; boundary=${form.boundary}`,
        'content-length': String(form.length),
        ...(options.botToken ? { authorization: `Bot ${options.botToken}` } : {}),
      },
      signal,
      // undici's own defaults (300 s) would cut a slow upload of a large file short.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    text = await response.body.text();
  } catch (error) {
    const message = signal.aborted ? `the upload took longer than ${options.timeoutMs} ms` : `the upload failed: ${(error as Error).message}`;
    throw new DiscordUploadError(redact(message, secrets), { cause: error });
  }

  const json = parseJson(text);
  if (response.statusCode >= 200 && response.statusCode < 300) {
    if (isPostedMessage(json)) return json;
    throw new DiscordUploadError(`Discord answered HTTP ${response.statusCode} without a message`, { status: response.statusCode });
  }
  const error = (json ?? {}) as { message?: unknown; code?: unknown; retry_after?: unknown };
  const code = typeof error.code === 'number' ? error.code : undefined;
  const retryAfterMs = secondsToMs(error.retry_after) ?? secondsToMs(Number(response.headers['retry-after']));
  const said = typeof error.message === 'string' ? `: ${error.message}` : '';
  throw new DiscordUploadError(redact(`Discord answered HTTP ${response.statusCode}${code === undefined ? '' : ` (code ${code})`}${said}`, secrets), {
    status: response.statusCode,
    ...(code === undefined ? {} : { code }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/**
 * The multipart body, written by hand: undici's FormData with a file-backed Blob
 * (`fs.openAsBlob`) fails on Node 24 ("action is not a function", the npm undici reading a Blob
 * of Node's own undici), and anything else would hold the file in memory. The file part is a
 * read stream, so memory stays flat whatever the size; the length is known up front.
 */
async function multipartBody(options: UploadMessageOptions): Promise<{ body: Readable; boundary: string; length: number }> {
  const boundary = `pika-discord-${randomBytes(12).toString('hex')}`;
  const fileName = options.file.name.replace(/["\r\n\\]/g, '_');
  const head = Buffer.from(
    [
      `--${boundary}`,
      'Content-Disposition: form-data; name="payload_json"',
      'Content-Type: application/json',
      '',
      JSON.stringify(options.payload),
      `--${boundary}`,
      `Content-Disposition: form-data; name="files[0]"; filename="${fileName}"`,
      `Content-Type: ${options.file.contentType}`,
      '',
      '',
    ].join('\r\n'),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const { size } = await stat(options.file.path);
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of createReadStream(options.file.path)) yield chunk as Buffer;
    yield tail;
  }
  return { body: Readable.from(parts()), boundary, length: head.length + size + tail.length };
}

/** The bot token, and the long path segments of the URL: the interaction token among them. */
function secretsOf(options: UploadMessageOptions): string[] {
  const pathSegments = new URL(options.url).pathname.split('/').filter((segment) => segment.length >= 32);
  return [...(options.botToken ? [options.botToken] : []), ...pathSegments];
}

function redact(text: string, secrets: readonly string[]): string {
  const redacted = secrets.reduce((result, secret) => result.replaceAll(secret, '[redacted]'), text);
  return redacted.length > MAX_MESSAGE_CHARS ? `${redacted.slice(0, MAX_MESSAGE_CHARS - 1)}…` : redacted;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isPostedMessage(value: unknown): value is PostedMessage {
  const message = value as Partial<PostedMessage> | undefined;
  return typeof message?.id === 'string' && typeof message.channel_id === 'string';
}

function secondsToMs(seconds: unknown): number | undefined {
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
}
