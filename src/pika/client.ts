import { Agent, request, type Dispatcher } from 'undici';
import { errorFromResponse, isRecord, PikaError } from './errors.js';
import type { PikaFeed, PikaGenerateBody, PikaVideo } from './types.js';

export interface PikaClientOptions {
  baseUrl: string;
  apiKey: string;
  generateTimeoutMs: number;
  feedTimeoutMs: number;
  /** Removes secrets from anything the upstream echoes back. */
  redact: (text: string) => string;
  dispatcher?: Dispatcher;
}

/** Largest JSON answer we are willing to buffer. */
const MAX_JSON_BYTES = 1024 * 1024;
/** Bad gateway, service unavailable, gateway timeout. */
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/**
 * The Pika proxy API. `generate` is billed per call, so it is sent exactly once: a timeout, a
 * dropped connection or a gateway's 502/503/504 leaves its outcome unknown and is reported as
 * such, never retried here. `feed` is a plain read; its callers retry it.
 */
export class PikaClient {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: PikaClientOptions) {
    this.dispatcher = options.dispatcher ?? new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  }

  /** Starts a task and returns its id. */
  async generate(body: PikaGenerateBody): Promise<string> {
    const answer = await this.call('POST', '/pika/generate', this.options.generateTimeoutMs, body);
    if (isRecord(answer.json) && typeof answer.json.id === 'string' && answer.json.id.trim() !== '') {
      return answer.json.id;
    }
    if (isRecord(answer.json) && ('code' in answer.json || 'msg' in answer.json || 'error' in answer.json)) {
      throw errorFromResponse(answer.status, answer.json, this.options.redact);
    }
    throw new PikaError('bad_response', 'Pika API answered generate without a task id');
  }

  /** Reads a task's current state. */
  async feed(taskId: string): Promise<PikaFeed> {
    const answer = await this.call('GET', `/pika/feed/${encodeURIComponent(taskId)}`, this.options.feedTimeoutMs);
    return parseFeed(answer.json);
  }

  async close(): Promise<void> {
    if (!this.options.dispatcher) await this.dispatcher.close();
  }

  private async call(method: 'GET' | 'POST', path: string, timeoutMs: number, body?: unknown) {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.options.baseUrl}${path}`, {
        method,
        dispatcher: this.dispatcher,
        signal,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw this.transportError(error, signal, method, timeoutMs);
    }

    let text: string;
    try {
      text = await readText(response.body);
    } catch (error) {
      throw this.transportError(error, signal, method, timeoutMs);
    }
    const json = parseJson(text);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      // A gateway answers these also after it forwarded the request: a generate may have started.
      const outcomeUnknown = method === 'POST' && GATEWAY_STATUSES.has(response.statusCode);
      throw errorFromResponse(response.statusCode, json ?? text.slice(0, 500), this.options.redact, { outcomeUnknown });
    }
    if (json === undefined) {
      throw new PikaError('bad_response', `Pika API answered ${response.statusCode} with a body that is not JSON`, {
        status: response.statusCode,
      });
    }
    return { status: response.statusCode, json };
  }

  private transportError(error: unknown, signal: AbortSignal, method: string, timeoutMs: number): PikaError {
    // Once a POST has left, a lost answer does not mean a lost task: the caller must not resend it.
    const outcomeUnknown = method === 'POST';
    if (signal.aborted) {
      return new PikaError('timeout', `Pika API did not answer within ${timeoutMs} ms`, { outcomeUnknown, cause: error });
    }
    const reason = this.options.redact((error as Error)?.message ?? String(error));
    return new PikaError('network', `Could not reach the Pika API: ${reason}`, { outcomeUnknown, cause: error });
  }
}

async function readText(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > MAX_JSON_BYTES) {
      body.destroy();
      throw new Error(`answer larger than ${MAX_JSON_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Checks a feed answer against the documented shape, keeping only fields of the right type. */
export function parseFeed(json: unknown): PikaFeed {
  if (!isRecord(json) || !Array.isArray(json.videos)) {
    throw new PikaError('bad_response', 'Pika API answered the feed with an unexpected shape');
  }
  const videos: PikaVideo[] = [];
  for (const item of json.videos) {
    if (!isRecord(item) || typeof item.status !== 'string') {
      throw new PikaError('bad_response', 'Pika API answered the feed with a video of an unexpected shape');
    }
    videos.push({
      id: typeof item.id === 'string' ? item.id : '',
      status: item.status,
      ...pick(item, 'seed', 'number'),
      ...pick(item, 'resultUrl', 'string'),
      ...pick(item, 'sharingUrl', 'string'),
      ...pick(item, 'videoPoster', 'string'),
      ...pick(item, 'imageThumb', 'string'),
      ...pick(item, 'duration', 'number'),
      ...pick(item, 'error', 'string'),
      ...pick(item, 'progress', 'number'),
    });
  }
  return {
    id: typeof json.id === 'string' ? json.id : '',
    ...(typeof json.promptText === 'string' ? { promptText: json.promptText } : {}),
    videos,
  };
}

function pick(record: Record<string, unknown>, key: string, type: 'string' | 'number'): Record<string, unknown> {
  const value = record[key];
  return typeof value === type && (type !== 'number' || Number.isFinite(value)) ? { [key]: value } : {};
}
