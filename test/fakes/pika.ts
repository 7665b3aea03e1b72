/**
 * A fake of the Pika proxy API (see /work/shared/pika-api.md) plus the CDN its result URLs point
 * to, for tests. It runs on 127.0.0.1 with an ephemeral port, records every request, lets a test
 * script each task's feed progression, and injects faults (any HTTP status, hangs, dropped
 * sockets, non-JSON and wrongly shaped JSON) so the client's error handling can be exercised
 * without the internet and without paying for a single generate call.
 *
 * Routes (relative to `url`):
 *   POST /pika/generate         -> { id }                      (auth)
 *   GET  /pika/feed/:id         -> { id, promptText, videos }  (auth; each GET advances one step)
 *   GET  /cdn/:id/video.mp4     -> the task's video bytes       (no auth; HEAD too)
 *   GET  /cdn/:id/share.mp4     -> the same bytes: the feed's sharingUrl (no auth; HEAD too)
 *   GET  /cdn/:id/poster.jpg    -> fixture poster.jpg           (no auth; HEAD too)
 *   GET  /cdn/:id/thumbnail.jpg -> fixture poster.jpg           (no auth; HEAD too)
 */
import { randomInt, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePikaOptions {
  /** The key every /pika/* request must present as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
}

export interface RecordedPikaRequest {
  /** Date.now() when the request body had been read. */
  at: number;
  method: string;
  /** Path plus query string, as sent. */
  path: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON, or the raw string if it is not JSON, or undefined if the body was empty. */
  body: unknown;
}

/** One feed poll's answer: `'empty'` is `{ videos: [] }`, anything else is one video in that state. */
export type FeedStep =
  | 'empty'
  | {
      status: string;
      progress?: number;
      /** Whether videoPoster/imageThumb are filled in at this step ("" otherwise). */
      poster?: boolean;
      error?: string;
    };

export interface TaskScript {
  /** The answers to successive feed polls; the last one repeats. Default: DEFAULT_FEED. */
  feed?: FeedStep[];
  /** The bytes the CDN serves as the result. Default: fixture tiny.mp4. Any size is allowed. */
  video?: Buffer;
  /** Default 'video/mp4'. */
  videoContentType?: string;
  /** Default: a random unsigned 32-bit integer. */
  seed?: number;
  /** Seconds. Default 5. */
  duration?: number;
  /** Replaces resultUrl in finished steps (e.g. a non-http scheme); sharingUrl stays on the CDN. */
  resultUrl?: string;
  /** Generate answers (successfully) only after this long: a slow start. */
  generateDelayMs?: number;
}

export type PikaFault =
  /** Any HTTP status. `body` is sent as JSON, `rawBody` as-is; `headers` override the defaults. */
  | { kind: 'status'; status: number; body?: unknown; rawBody?: string; headers?: Record<string, string> }
  /** Read the request and never answer (until close()); the client's own timeout must fire. */
  | { kind: 'hang' }
  /** Destroy the socket without answering. */
  | { kind: 'network' }
  /** 200 with an HTML body, as a misconfigured proxy or gateway would send. */
  | { kind: 'non-json' }
  /** 200 JSON of an unexpected shape. */
  | { kind: 'wrong-shape' }
  /** Generate only: HTTP 200 {"code":400,"msg":…} without an id, as some resellers answer. */
  | { kind: 'no-id' };

/** What a task looks like to a test: its script, the step last served and the generate body. */
export interface FakePikaTask {
  id: string;
  script: TaskScript;
  /** Index into the feed of the step the most recent feed poll returned; -1 before the first poll. */
  step: number;
  seed: number;
  /** The generate request body that created the task. */
  body: unknown;
  /** Date.now() when a feed poll first answered `finished`. */
  finishedAt?: number;
}

/** Roughly what the real API goes through: an empty feed first, then queued, pending, finished. */
export const DEFAULT_FEED: readonly FeedStep[] = Object.freeze([
  'empty',
  { status: 'queued', progress: 0 },
  { status: 'pending', progress: 10 },
  { status: 'pending', progress: 40, poster: true },
  { status: 'pending', progress: 70, poster: true },
  { status: 'finished', progress: 100, poster: true },
]);

const DEFAULT_DURATION_SECONDS = 5;
const DEFAULT_VIDEO_CONTENT_TYPE = 'video/mp4';
const FIXTURES_DIR = new URL('../fixtures/', import.meta.url);

type Endpoint = 'generate' | 'feed';

/** Which of a task's video files a CDN fault hits: the `resultUrl` one or the `sharingUrl` one. */
export type CdnFile = 'video.mp4' | 'share.mp4';

/** A CDN fault: a status, a hang, a dropped socket, or a stall after the headers and a first chunk. */
export type CdnFault = Extract<PikaFault, { kind: 'status' | 'hang' | 'network' }> | { kind: 'stall' };

interface Fixtures {
  video: Buffer;
  poster: Buffer;
}

export class FakePika {
  readonly url: string;
  readonly requests: RecordedPikaRequest[] = [];

  readonly #server: Server;
  readonly #apiKey: string;
  readonly #fixtures: Fixtures;
  readonly #scripts: TaskScript[] = [];
  readonly #faults: Record<Endpoint, PikaFault[]> = { generate: [], feed: [] };
  readonly #cdnFaults: Record<CdnFile, CdnFault[]> = { 'video.mp4': [], 'share.mp4': [] };
  readonly #tasks = new Map<string, FakePikaTask>();
  #closing: Promise<void> | undefined;

  private constructor(server: Server, apiKey: string, fixtures: Fixtures) {
    this.#server = server;
    this.#apiKey = apiKey;
    this.#fixtures = fixtures;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    server.on('request', (req, res) => {
      this.#handle(req, res).catch((error: unknown) => sendInternalError(res, error));
    });
  }

  static async start(opts: FakePikaOptions): Promise<FakePika> {
    const [video, poster] = await Promise.all([
      readFile(new URL('tiny.mp4', FIXTURES_DIR)),
      readFile(new URL('poster.jpg', FIXTURES_DIR)),
    ]);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FakePika(server, opts.apiKey, { video, poster });
  }

  get generateCalls(): RecordedPikaRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/pika/generate');
  }

  get feedCalls(): RecordedPikaRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/pika/feed/'));
  }

  /** Queue a script for the next successful generate (FIFO); the default script once the queue is empty. */
  nextTask(script: TaskScript): void {
    if (script.feed?.length === 0) throw new TypeError('TaskScript.feed must have at least one step');
    this.#scripts.push(script);
  }

  /** The next `times` generate requests (that pass auth) get this fault and create no task. */
  failNextGenerate(fault: PikaFault, times = 1): void {
    this.#queueFault('generate', fault, times);
  }

  /** The next `times` feed requests (any task, passing auth) get this fault and advance no task. */
  failNextFeed(fault: PikaFault, times = 1): void {
    if (fault.kind === 'no-id') throw new TypeError("the 'no-id' fault only applies to generate");
    this.#queueFault('feed', fault, times);
  }

  /** The next `times` downloads of `file` (any task) get this fault. */
  failNextCdn(fault: CdnFault, times = 1, file: CdnFile = 'video.mp4'): void {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`times must be a positive integer, got ${times}`);
    for (let i = 0; i < times; i++) this.#cdnFaults[file].push(fault);
  }

  /** Downloads of task videos so far (GET only), e.g. to count retries. */
  get cdnVideoCalls(): RecordedPikaRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && /^\/cdn\/[^/]+\/(video|share)\.mp4/.test(r.path));
  }

  task(id: string): FakePikaTask | undefined {
    return this.#tasks.get(id);
  }

  taskIds(): string[] {
    return [...this.#tasks.keys()];
  }

  /** The task's next feed poll answers `finished` (and so does every one after it), wherever its script was. */
  finishNow(id: string): void {
    const task = this.#tasks.get(id);
    if (!task) throw new Error(`no task ${id}`);
    const served = (task.script.feed ?? DEFAULT_FEED).slice(0, task.step + 1);
    task.script = { ...task.script, feed: [...served, { status: 'finished', progress: 100, poster: true }] };
  }

  /** Forget requests, scripts, faults and tasks; keep the port. Hung requests stay hung until close(). */
  reset(): void {
    // Cleared in place so a test holding `fake.requests` keeps seeing the live list.
    this.requests.length = 0;
    this.#scripts.length = 0;
    this.#faults.generate.length = 0;
    this.#faults.feed.length = 0;
    this.#cdnFaults['video.mp4'].length = 0;
    this.#cdnFaults['share.mp4'].length = 0;
    this.#tasks.clear();
  }

  /** Stop listening and destroy every connection, hung or keep-alive, so tests exit promptly. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  #queueFault(endpoint: Endpoint, fault: PikaFault, times: number): void {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`times must be a positive integer, got ${times}`);
    for (let i = 0; i < times; i++) this.#faults[endpoint].push(fault);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await recordRequest(req);
    this.requests.push(recorded);
    const pathname = new URL(recorded.path, this.url).pathname;

    if (pathname.startsWith('/cdn/')) return this.#serveCdn(req.method ?? '', pathname, res);
    if (!pathname.startsWith('/pika/')) return sendApiError(res, 404, 'not found');
    if (recorded.headers['authorization'] !== `Bearer ${this.#apiKey}`) {
      return sendApiError(res, 401, 'invalid api key');
    }

    if (pathname === '/pika/generate') {
      if (req.method !== 'POST') return sendApiError(res, 405, 'method not allowed');
      const fault = this.#faults.generate.shift();
      return fault ? sendFault(res, fault, 'generate') : this.#generate(recorded.body, res);
    }
    const feedId = matchOne(pathname, /^\/pika\/feed\/([^/]+)$/);
    if (feedId !== undefined) {
      if (req.method !== 'GET') return sendApiError(res, 405, 'method not allowed');
      const fault = this.#faults.feed.shift();
      return fault ? sendFault(res, fault, 'feed') : this.#feed(feedId, res);
    }
    return sendApiError(res, 404, 'not found');
  }

  #generate(body: unknown, res: ServerResponse): void {
    // The real API's answer to a malformed body is unknown; a 400 makes a client bug obvious.
    if (!isPlainObject(body)) return sendApiError(res, 400, 'request body must be a JSON object');
    const script = this.#scripts.shift() ?? {};
    const id = randomUUID();
    this.#tasks.set(id, { id, script, step: -1, seed: script.seed ?? randomInt(2 ** 32), body });
    if (script.generateDelayMs) setTimeout(() => sendJson(res, 200, { id }), script.generateDelayMs);
    else sendJson(res, 200, { id });
  }

  #feed(id: string, res: ServerResponse): void {
    const task = this.#tasks.get(id);
    if (!task) return sendApiError(res, 404, 'task not found');
    const feed = task.script.feed ?? DEFAULT_FEED;
    task.step = Math.min(task.step + 1, feed.length - 1);
    const step = feed[task.step] ?? 'empty';
    if (step !== 'empty' && step.status === 'finished') task.finishedAt ??= Date.now();
    sendJson(res, 200, {
      id,
      promptText: promptTextOf(task.body),
      videos: step === 'empty' ? [] : [this.#video(task, step)],
    });
  }

  /** One entry of `videos[]`, shaped exactly like the example in pika-api.md. */
  #video(task: FakePikaTask, step: Exclude<FeedStep, 'empty'>): Record<string, unknown> {
    const cdn = `${this.url}/cdn/${task.id}`;
    const finished = step.status === 'finished';
    return {
      id: task.id,
      status: step.status,
      seed: task.seed,
      resultUrl: finished ? (task.script.resultUrl ?? `${cdn}/video.mp4`) : '',
      sharingUrl: finished ? `${cdn}/share.mp4` : '',
      videoPoster: step.poster ? `${cdn}/poster.jpg` : '',
      imageThumb: step.poster ? `${cdn}/thumbnail.jpg` : '',
      duration: task.script.duration ?? DEFAULT_DURATION_SECONDS,
      error: step.error ?? '',
      progress: step.progress ?? 0,
    };
  }

  #serveCdn(method: string, pathname: string, res: ServerResponse): void {
    if (method !== 'GET' && method !== 'HEAD') return sendApiError(res, 405, 'method not allowed');
    const match = /^\/cdn\/([^/]+)\/(video\.mp4|share\.mp4|poster\.jpg|thumbnail\.jpg)$/.exec(pathname);
    const task = match?.[1] === undefined ? undefined : this.#tasks.get(match[1]);
    if (!match || !task) return sendApiError(res, 404, 'not found');

    const isVideo = match[2] === 'video.mp4' || match[2] === 'share.mp4';
    const fault = isVideo && method === 'GET' ? this.#cdnFaults[match[2] as CdnFile].shift() : undefined;
    if (fault?.kind === 'stall') {
      const bytes = task.script.video ?? this.#fixtures.video;
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': bytes.length });
      res.write(bytes.subarray(0, Math.min(16, bytes.length - 1)));
      return; // never finished; close() destroys the socket
    }
    if (fault) return sendFault(res, fault, 'feed');
    const bytes = isVideo ? (task.script.video ?? this.#fixtures.video) : this.#fixtures.poster;
    const contentType = isVideo ? (task.script.videoContentType ?? DEFAULT_VIDEO_CONTENT_TYPE) : 'image/jpeg';
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': bytes.length });
    res.end(method === 'HEAD' ? undefined : bytes);
  }
}

async function recordRequest(req: IncomingMessage): Promise<RecordedPikaRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return {
    at: Date.now(),
    method: req.method ?? '',
    path: req.url ?? '',
    headers: flattenHeaders(req.headers),
    body: parseBody(Buffer.concat(chunks).toString('utf8')),
  };
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function sendFault(res: ServerResponse, fault: PikaFault, endpoint: Endpoint): void {
  switch (fault.kind) {
    case 'status':
      return sendStatusFault(res, fault);
    case 'hang':
      // Leave the response open; close() destroys the socket.
      return;
    case 'network':
      res.socket?.destroy();
      return;
    case 'non-json':
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>');
      return;
    case 'wrong-shape':
      return sendJson(res, 200, endpoint === 'generate' ? { data: [1, 2] } : { id: 'x', videos: 'nope' });
    case 'no-id':
      return sendJson(res, 200, { code: 400, msg: 'prompt rejected by moderation' });
  }
}

function sendStatusFault(res: ServerResponse, fault: Extract<PikaFault, { kind: 'status' }>): void {
  const raw = fault.rawBody !== undefined;
  const payload = fault.rawBody ?? JSON.stringify(fault.body ?? { error: { message: `fake HTTP ${fault.status}` } });
  // Lower-cased so a test's 'content-type' replaces the default instead of being sent twice.
  const headers: Record<string, string | number> = {
    'content-type': raw ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(payload),
  };
  for (const [name, value] of Object.entries(fault.headers ?? {})) headers[name.toLowerCase()] = value;
  res.writeHead(fault.status, headers);
  res.end(payload);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const payload = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** Errors in the `{"error":{"message":…}}` style, the most common one among resellers. */
function sendApiError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message } });
}

/** A bug in the fake must show up as a loud 500, not as a hang the test would blame on the client. */
function sendInternalError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendApiError(res, 500, `fake pika crashed: ${error instanceof Error ? error.message : String(error)}`);
}

function matchOne(text: string, pattern: RegExp): string | undefined {
  const captured = pattern.exec(text)?.[1];
  return captured === undefined ? undefined : decodeURIComponent(captured);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function promptTextOf(body: unknown): string {
  return isPlainObject(body) && typeof body.promptText === 'string' ? body.promptText : '';
}
