import { request, type Dispatcher } from 'undici';

export type DownloadFailure = 'too_large' | 'bad_scheme' | 'bad_status' | 'timeout' | 'network' | 'empty' | 'too_many_redirects';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly reason: DownloadFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
  dispatcher?: Dispatcher;
  headers?: Record<string, string>;
}

export interface Downloaded {
  data: Buffer;
  contentType: string | undefined;
}

const MAX_REDIRECTS = 3;

/** A timeout that fits a transfer of `bytes` at the slowest throughput we are willing to wait for. */
export function transferTimeoutMs(bytes: number, { baseMs, bytesPerSecond }: { baseMs: number; bytesPerSecond: number }): number {
  return baseMs + Math.ceil((bytes / bytesPerSecond) * 1000);
}

/**
 * Fetches `url` into memory, refusing anything but http(s) (redirects included), bodies over
 * `maxBytes` (checked on Content-Length and again while streaming, since it can lie) and
 * transfers slower than `timeoutMs` overall.
 */
export async function downloadBounded(url: string, limits: DownloadLimits): Promise<Downloaded> {
  const signal = AbortSignal.timeout(Math.ceil(limits.timeoutMs));
  let current = url;
  try {
    for (let redirects = 0; redirects <= MAX_REDIRECTS; redirects++) {
      assertHttpUrl(current);
      const response = await request(current, {
        method: 'GET',
        signal,
        ...(limits.headers ? { headers: limits.headers } : {}),
        ...(limits.dispatcher ? { dispatcher: limits.dispatcher } : {}),
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
        throw new DownloadError('too_large', `file is ${declared} bytes, over the ${limits.maxBytes}-byte limit`);
      }
      const data = await readCapped(response.body, limits.maxBytes);
      if (data.length === 0) throw new DownloadError('empty', 'the file is empty');
      const contentType = response.headers['content-type'];
      return { data, contentType: typeof contentType === 'string' ? contentType.split(';')[0]!.trim().toLowerCase() : undefined };
    }
    throw new DownloadError('too_many_redirects', `more than ${MAX_REDIRECTS} redirects`);
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    if (signal.aborted) throw new DownloadError('timeout', `download took longer than ${limits.timeoutMs} ms`, { cause: error });
    throw new DownloadError('network', `download failed: ${(error as Error).message}`, { cause: error });
  }
}

function assertHttpUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new DownloadError('bad_scheme', 'not a valid URL');
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new DownloadError('bad_scheme', `refusing a ${protocol} URL: only http(s) is fetched`);
  }
}

type Body = AsyncIterable<Buffer> & { destroy(): void; on(event: 'error', listener: () => void): unknown };

/** Drops a body we won't read. Destroying it makes undici emit an error nobody else listens to. */
function discard(body: Body): void {
  body.on('error', () => {});
  body.destroy();
}

async function readCapped(body: Body, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) {
      discard(body);
      throw new DownloadError('too_large', `file is over the ${maxBytes}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
