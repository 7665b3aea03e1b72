import { randomUUID } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ForbiddenAddressError } from './net/media-guard.js';

export type DownloadFailure =
  | 'too_large'
  | 'bad_scheme'
  | 'bad_status'
  | 'timeout'
  | 'network'
  | 'empty'
  | 'too_many_redirects'
  | 'forbidden_address';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  /** For too_large: the file's size when the server declared it, so the caller can say it or link the file. */
  readonly sizeBytes: number | undefined;

  constructor(
    readonly reason: DownloadFailure,
    message: string,
    options?: { cause?: unknown; sizeBytes?: number },
  ) {
    super(message, options);
    this.sizeBytes = options?.sizeBytes;
  }
}

export interface DownloadLimits {
  maxBytes: number;
  /** For the whole transfer, redirects included. */
  timeoutMs: number;
  /** Longest wait for the response headers, or between two chunks of the body. */
  stallTimeoutMs?: number;
  /** Decides which addresses may be connected to: see `createMediaDispatcher`. */
  dispatcher: Dispatcher;
  /** Sent to the URL's own origin only, never to another origin a redirect leads to. */
  headers?: Record<string, string>;
}

export interface Downloaded {
  data: Buffer;
  contentType: string | undefined;
}

export interface DownloadedFile {
  path: string;
  sizeBytes: number;
  contentType: string | undefined;
  /** The first bytes of the file (up to 16), to recognise its format without reading it again. */
  head: Buffer;
}

const MAX_REDIRECTS = 3;
const HEAD_BYTES = 16;

/** A timeout that fits a transfer of `bytes` at the slowest throughput we are willing to wait for. */
export function transferTimeoutMs(bytes: number, { baseMs, bytesPerSecond }: { baseMs: number; bytesPerSecond: number }): number {
  return baseMs + Math.ceil((bytes / bytesPerSecond) * 1000);
}

/**
 * Fetches `url` into memory, refusing anything but http(s) (redirects included), addresses the
 * dispatcher forbids, bodies over `maxBytes` (checked on Content-Length and again while
 * streaming, since it can lie) and transfers slower than `timeoutMs` overall.
 */
export function downloadBounded(url: string, limits: DownloadLimits): Promise<Downloaded> {
  return fetchBody(url, limits, async (body, contentType) => {
    const meter = new ByteMeter(limits.maxBytes);
    const chunks: Buffer[] = [];
    await pipeline(body, meter, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) chunks.push(chunk);
    });
    return { data: Buffer.concat(chunks, meter.bytes), contentType };
  });
}

/**
 * Like `downloadBounded`, but streams the body to a new file in `dir` instead of memory. The
 * caller owns the file and deletes it when done; on any failure it is deleted here.
 */
export function downloadToFile(url: string, limits: DownloadLimits & { dir: string }): Promise<DownloadedFile> {
  return fetchBody(url, limits, async (body, contentType) => {
    const path = join(limits.dir, `download-${randomUUID()}`);
    const meter = new ByteMeter(limits.maxBytes);
    try {
      // Opened before streaming, so no write stream is still creating the file when it is removed below.
      const file = await open(path, 'wx');
      await pipeline(body, meter, file.createWriteStream());
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return { path, sizeBytes: meter.bytes, contentType, head: meter.head };
  });
}

type Body = Dispatcher.ResponseData['body'];

/**
 * What both downloads share: the redirect loop with its scheme and header rules, the status and
 * Content-Length checks, the timeouts, and turning every failure into a DownloadError.
 * `consume` reads the body of the final answer.
 */
async function fetchBody<T>(url: string, limits: DownloadLimits, consume: (body: Body, contentType: string | undefined) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(Math.ceil(limits.timeoutMs));
  try {
    const origin = originOf(url);
    let current = url;
    // Once a redirect has left the URL's origin, the rest of the chain is someone else's.
    let sameOrigin = true;
    for (let redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
      sameOrigin &&= originOf(current) === origin;
      const response = await request(current, {
        method: 'GET',
        signal,
        dispatcher: limits.dispatcher,
        ...(limits.headers && sameOrigin ? { headers: limits.headers } : {}),
        ...(limits.stallTimeoutMs === undefined ? {} : { headersTimeout: limits.stallTimeoutMs, bodyTimeout: limits.stallTimeoutMs }),
      });
      const location = response.headers.location;
      if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === 'string') {
        await response.body.dump();
        current = new URL(location, current).toString();
        continue;
      }
      if (response.statusCode < 200 || response.statusCode >= 300) {
        await response.body.dump();
        throw new DownloadError('bad_status', `download answered HTTP ${response.statusCode}`);
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        discard(response.body);
        throw new DownloadError('too_large', `file is ${declared} bytes, over the ${limits.maxBytes}-byte limit`, { sizeBytes: declared });
      }
      const contentType = response.headers['content-type'];
      return await consume(response.body, typeof contentType === 'string' ? contentType.split(';')[0]!.trim().toLowerCase() : undefined);
    }
    throw new DownloadError('too_many_redirects', `more than ${MAX_REDIRECTS} redirects`);
  } catch (error) {
    throw asDownloadError(error, signal, limits);
  }
}

function asDownloadError(error: unknown, signal: AbortSignal, limits: DownloadLimits): DownloadError {
  if (error instanceof DownloadError) return error;
  const refusal = forbiddenAddressIn(error);
  if (refusal) return new DownloadError('forbidden_address', refusal.message, { cause: error });
  if (signal.aborted) return new DownloadError('timeout', `download took longer than ${limits.timeoutMs} ms`, { cause: error });
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new DownloadError('timeout', `the download stalled for ${limits.stallTimeoutMs} ms`, { cause: error });
  }
  return new DownloadError('network', `download failed: ${(error as Error).message}`, { cause: error });
}

/** The refusal behind a failed connection, however deep undici or node wrapped it. */
function forbiddenAddressIn(error: unknown): ForbiddenAddressError | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof ForbiddenAddressError) return current;
  }
  return undefined;
}

/** The origin of an http(s) URL; anything else is refused. */
function originOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DownloadError('bad_scheme', 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DownloadError('bad_scheme', `refusing a ${parsed.protocol} URL: only http(s) is fetched`);
  }
  return parsed.origin;
}

/** Drops a body we won't read. Destroying it makes undici emit an error nobody else listens to. */
function discard(body: Body): void {
  body.on('error', () => {});
  body.destroy();
}

/**
 * Passes a body through, counting it and keeping its first bytes; fails once it exceeds
 * `maxBytes`, or at the end if it was empty.
 */
class ByteMeter extends Transform {
  bytes = 0;
  head = Buffer.alloc(0);

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(new DownloadError('too_large', `file is over the ${this.maxBytes}-byte limit`));
      return;
    }
    if (this.head.length < HEAD_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.bytes === 0 ? new DownloadError('empty', 'the file is empty') : null);
  }
}
