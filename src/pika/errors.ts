import { truncate } from '../text.js';

/** Why a call to the Pika API failed, in the terms the bot reacts to. */
export type PikaErrorKind =
  | 'unauthorized' // bad or revoked key: the operator must act
  | 'out_of_balance' // the operator's account has run dry
  | 'rate_limited' // upstream asks us to slow down
  | 'rejected' // the request itself was refused (bad parameters, moderation…)
  | 'server' // 5xx
  | 'network' // connection refused, reset…
  | 'timeout' // no answer in time
  | 'bad_response'; // an answer we cannot understand (non-JSON, wrong shape)

const UPSTREAM_FAULTS: ReadonlySet<PikaErrorKind> = new Set(['server', 'network', 'timeout']);

export class PikaError extends Error {
  override readonly name = 'PikaError';

  constructor(
    readonly kind: PikaErrorKind,
    message: string,
    readonly details: {
      status?: number;
      /** The upstream's own reason, sanitized: safe to show to a user. */
      upstreamMessage?: string;
      /** True when a generate call may have started a (billed) task although we got no id. */
      outcomeUnknown?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** Failures that say the service is unwell rather than that the request was bad. */
  get isUpstreamFault(): boolean {
    return UPSTREAM_FAULTS.has(this.kind);
  }
}

const BALANCE_HINT = /balance|insufficient (?:funds|credit)|out of credit|credits? (?:exhausted|depleted)|余额/i;

/** Builds the error for an HTTP answer that carries no usable result. */
export function errorFromResponse(status: number, body: unknown, redact: (text: string) => string): PikaError {
  const upstreamMessage = sanitizeUpstreamMessage(extractMessage(body), redact);
  const effectiveStatus = status >= 200 && status < 300 ? numericCode(body) ?? status : status;
  // A 2xx answer that says it failed (`success: false`, an `error`) is a refusal.
  const saysFailed = isRecord(body) && (body.success === false || body.error !== undefined);
  const kind = effectiveStatus < 300 && saysFailed ? 'rejected' : kindForStatus(effectiveStatus, upstreamMessage);
  const summary = `Pika API answered ${status}${effectiveStatus !== status ? ` (code ${effectiveStatus})` : ''}`;
  return new PikaError(kind, upstreamMessage ? `${summary}: ${upstreamMessage}` : summary, {
    status,
    ...(upstreamMessage ? { upstreamMessage } : {}),
  });
}

function kindForStatus(status: number, message: string | undefined): PikaErrorKind {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 402 || (message !== undefined && BALANCE_HINT.test(message))) return 'out_of_balance';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server';
  if (status >= 400) return 'rejected';
  return 'bad_response';
}

/** Resellers disagree on error bodies: `{error:{message}}`, `{error:"…"}`, `{message}`, `{msg}`, `{detail}`. */
function extractMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  for (const candidate of [error, body.message, body.msg, body.detail]) {
    if (typeof candidate === 'string') return candidate;
  }
  return undefined;
}

function numericCode(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  const code = Number(body.code);
  return Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined;
}

/** Makes an upstream reason fit to show: no secrets, no control characters, no HTML, short. */
export function sanitizeUpstreamMessage(message: string | undefined, redact: (text: string) => string): string | undefined {
  if (message === undefined) return undefined;
  const cleaned = redact(message)
    .replace(/<[^>]*>/g, ' ')
    .replace(/[\p{Cc}\p{Cf}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (cleaned === '') return undefined;
  return truncate(cleaned, 200);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
